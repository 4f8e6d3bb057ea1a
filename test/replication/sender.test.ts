/**
 * A group's files replicated over real HTTPS to a journal at another "site" (a server on loopback serving a
 * repository folder): each checkpoint is acknowledged whole, only what changed crosses the link, and the
 * replica folder applied from the journal equals the source at that checkpoint. The link cut: checkpoints
 * fail, the recovery point ages, and the next one after the link is back catches up with nothing lost.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/index.ts';
import { applyTree, CHECKPOINT_TAG, Sender } from '../../src/replication/index.ts';
import { LocalBackend, RestBackend } from '../../src/repo/backend/index.ts';
import { loadSnapshots, Repository } from '../../src/repo/index.ts';
import { newRepo, PASSWORD, tempDir } from '../helpers/repo.ts';
import { startRestSite, TOKEN } from '../helpers/rest-site.ts';
import { compareTrees } from '../helpers/tree.ts';

void test('replication: checkpoints into a journal over HTTPS, the replica applied from it equals the source at each; a cut link ages the recovery point and loses nothing', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'big.bin'), Buffer.alloc(2_000_000, 3));
  const source = await newRepo(dir);
  const site = await startRestSite();
  t.after(() => site.close());
  const clock = new ManualClock(Date.parse('2026-12-08T00:00:00Z'));
  const link = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint, attempts: 2 });
  t.after(() => link.close());
  const sender = new Sender({ group: 'web', members: [{ paths: [src] }], source, journal: link, clock });
  // The hot site's view: the journal folder, opened with the group repository's password (shared key).
  const replica = join(dir, 'replica');
  let applied: string | undefined;
  const applyNewest = async (): Promise<string> => {
    const journal = await Repository.open(new LocalBackend(join(site.dir, 'repo')), PASSWORD);
    const newest = (await loadSnapshots(journal)).filter((s) => s.group === 'web' && s.tags?.includes(CHECKPOINT_TAG)).at(-1)!;
    await applyTree(journal, applied, newest.tree, replica);
    applied = newest.tree;
    return newest.id;
  };

  for (let step = 0; step < 4; step++) {
    writeFileSync(join(src, 'sub', `f${step}.txt`), `step ${step}\n`);
    writeFileSync(join(src, 'counter'), String(step));
    const rec = await sender.checkpoint();
    assert.equal(rec.snapshots.length, 1);
    assert.equal(await applyNewest(), rec.snapshots[0]);
    assert.deepEqual(compareTrees(src, join(replica, src), { owner: false }), [], `checkpoint ${step}`);
    await clock.advance(1000);
  }
  // The 2 MB file crossed once: later checkpoints sent only what changed.
  const journalBytes = (await import('node:fs')).readdirSync(join(site.dir, 'repo', 'data'), { recursive: true }).length;
  assert.ok(journalBytes > 0);
  assert.ok(sender.stats.bytesSent < 2_000_000 + 200_000, `sent ${sender.stats.bytesSent} bytes for 4 checkpoints`);

  // The link cut: the checkpoint fails, the recovery point ages with the clock.
  const port = Number(new URL(site.url).port);
  await site.close();
  writeFileSync(join(src, 'during-cut.txt'), 'written while the link was down\n');
  await assert.rejects(sender.checkpoint());
  await clock.advance(30_000);
  assert.ok(sender.rpoMs()! >= 30_000, `rpo ${sender.rpoMs()}`);
  assert.equal(sender.health().ok, false);
  // Back: the next checkpoint carries everything written meanwhile.
  const again = await startRestSite({}, { port, dir: site.dir, certDir: site.certDir });
  t.after(() => again.close());
  const rec = await sender.checkpoint();
  assert.equal(sender.rpoMs(), 0);
  assert.equal(sender.health().ok, true);
  assert.equal(await applyNewest(), rec.snapshots[0]);
  assert.deepEqual(compareTrees(src, join(replica, src), { owner: false }), []);
});
