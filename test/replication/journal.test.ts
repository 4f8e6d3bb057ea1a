/**
 * The hot site's keeper of a journal (on a manual clock): it applies the newest checkpoint to the replica,
 * skipping those that arrived meanwhile; it thins checkpoints older than a day to one an hour (then one a
 * day), never the newest; and a sender restarted with the id of its last checkpoint resumes from it.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/index.ts';
import { listCheckpoints, ReplicaKeeper, Sender } from '../../src/replication/index.ts';
import { LocalBackend } from '../../src/repo/backend/index.ts';
import { Repository } from '../../src/repo/index.ts';
import { newRepo, PASSWORD, tempDir } from '../helpers/repo.ts';

void test('journal keeper: applies the newest checkpoint, thins those older than a day, keeps the newest; a sender resumes from its last checkpoint', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  const source = await newRepo(dir);
  const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
  const journalPath = join(dir, 'journal');
  const sender = new Sender({ group: 'web', members: [{ paths: [src] }], source, journal: new LocalBackend(journalPath), clock });
  // Three days of checkpoints, one every 20 minutes (216), each with the counter it held.
  for (let i = 0; i < 216; i++) {
    writeFileSync(join(src, 'counter'), String(i));
    await sender.checkpoint();
    await clock.advance(20 * 60_000);
  }
  const replica = join(dir, 'replica');
  const keeper = new ReplicaKeeper({ group: 'web', tokenHash: 'sha256:00', password: { value: PASSWORD }, path: journalPath, replica }, { clock });
  t.after(() => keeper.stop());
  await keeper.tick();
  assert.equal(readFileSync(join(replica, src, 'counter'), 'utf8'), '215', 'the newest, the ones before skipped');
  const forgotten = await keeper.thin();
  const journal = await Repository.open(new LocalBackend(journalPath), PASSWORD);
  const kept = await listCheckpoints(journal, 'web');
  t.diagnostic(`216 checkpoints over 3 days: ${forgotten} forgotten, ${kept.length} kept`);
  // "The last day" is counted back from the newest checkpoint, as forget's within does.
  const dayAgo = Date.parse(kept.at(-1)!.time) - 24 * 3600_000;
  const old = kept.filter((s) => Date.parse(s.time) <= dayAgo);
  const recent = kept.filter((s) => Date.parse(s.time) > dayAgo);
  assert.equal(recent.length, 72, 'every checkpoint of the last day');
  // One an hour before that (a daily one may share an hour with an hourly one at the day's edge).
  assert.ok(old.length <= new Set(old.map((s) => s.time.slice(0, 13))).size + 1, 'about one an hour before that');
  assert.ok(old.length >= 40 && forgotten > 90, `${old.length} older kept, ${forgotten} forgotten`);
  assert.equal(kept.at(-1)!.id, keeper.state.applied!.snapshot, 'the newest is kept');

  // A restarted sender given its last checkpoint's id takes it as the parent (no full re-read of the journal).
  writeFileSync(join(src, 'counter'), 'after restart');
  const again = new Sender({ group: 'web', members: [{ paths: [src] }], source, journal: new LocalBackend(journalPath), clock, resumeFrom: sender.last!.snapshots[0]! });
  const rec = await again.checkpoint();
  const snap = (await listCheckpoints(await Repository.open(new LocalBackend(journalPath), PASSWORD), 'web')).find((s) => s.id === rec.snapshots[0])!;
  assert.equal(snap.parent, sender.last!.snapshots[0]);
  assert.equal(snap.summary?.files_unmodified, 0, 'the counter changed');
});
