/**
 * Watched replication: a change starts a checkpoint at once (long before the next tick), and that
 * checkpoint lists only the folders where something happened; the journal's checkpoint still holds the
 * whole member. The periodic full scan catches what the watcher's hint left out.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyTree, CHECKPOINT_TAG, Sender } from '../../src/replication/index.ts';
import { LocalBackend } from '../../src/repo/backend/index.ts';
import { loadSnapshots, Repository } from '../../src/repo/index.ts';
import { newRepo, PASSWORD, tempDir } from '../helpers/repo.ts';
import { compareTrees } from '../helpers/tree.ts';
import { waitFor } from '../helpers/wait.ts';

void test('watched replication: a change is checkpointed at once, listing only the folders it touched; the checkpoint is still the whole member', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < 20; f++) writeFileSync(join(src, `d${d}`, `f${f}`), `${d}/${f}\n`);
  }
  const source = await newRepo(dir);
  const journalPath = join(dir, 'journal');
  // The tick is a minute away: only the watcher can make the checkpoints below happen in time.
  const sender = new Sender({ group: 'web', members: [{ paths: [src] }], source, journal: new LocalBackend(journalPath), everyMs: 60_000, watch: true, rescanEveryMs: 3_600_000 });
  const ac = new AbortController();
  await sender.start(ac.signal);
  t.after(() => sender.stop());
  await waitFor('the first (full) checkpoint', () => sender.stats.checkpoints >= 1, 30_000, 20);
  const journal = await Repository.open(new LocalBackend(journalPath), PASSWORD);
  const newest = async (): Promise<Awaited<ReturnType<typeof loadSnapshots>>[number]> => (await loadSnapshots(journal)).filter((s) => s.tags?.includes(CHECKPOINT_TAG)).at(-1)!;
  assert.equal((await newest()).summary?.total_files_processed, 400);

  const before = sender.stats.checkpoints;
  const t0 = Date.now();
  writeFileSync(join(src, 'd7', 'f3'), 'changed\n');
  await waitFor('a checkpoint started by the change', () => sender.stats.checkpoints > before, 10_000, 10);
  t.diagnostic(`change to acknowledged checkpoint: ${Date.now() - t0} ms`);
  const snap = await newest();
  t.diagnostic(`files looked at: ${snap.summary?.total_files_processed}, folders taken whole from the last checkpoint: ${snap.summary?.dirs_unmodified}`);
  assert.ok(snap.summary!.total_files_processed <= 20, `only the touched folder's files were looked at (${snap.summary!.total_files_processed})`);
  // Whole nonetheless: applied, it is the source.
  const replica = join(dir, 'replica');
  await journal.loadIndex();
  await applyTree(journal, undefined, snap.tree, replica);
  assert.deepEqual(compareTrees(src, join(replica, src), { owner: false }), []);
});
