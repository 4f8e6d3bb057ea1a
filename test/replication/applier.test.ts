/**
 * The hot replica folder's applier, on a real repository: applied checkpoint after checkpoint (files
 * changed, added, removed, turned into folders and back, links, modes, times), the replica equals each
 * checkpoint's tree exactly; an apply that compares with the disk puts right what a crash left; unchanged
 * files are not rewritten (a reader holding one keeps reading it).
 */
import * as assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyTree } from '../../src/replication/index.ts';
import { loadSnapshots } from '../../src/repo/index.ts';
import { backupFiles } from '../../src/sources/files/index.ts';
import { newRepo, openRepo, tempDir } from '../helpers/repo.ts';
import { compareTrees } from '../helpers/tree.ts';

void test('applier: checkpoint after checkpoint, the replica equals each one exactly; a disk comparison repairs a half-done apply; unchanged files are left alone', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  const replica = join(dir, 'replica');
  mkdirSync(join(src, 'docs', 'old'), { recursive: true });
  writeFileSync(join(src, 'a.txt'), 'alpha\n');
  writeFileSync(join(src, 'docs', 'b.txt'), 'bravo '.repeat(50_000));
  writeFileSync(join(src, 'docs', 'old', 'c.txt'), 'charlie\n');
  writeFileSync(join(src, 'keep.bin'), Buffer.alloc(300_000, 7));
  symlinkSync('a.txt', join(src, 'link'));
  await newRepo(dir);
  const trees: string[] = [];
  const checkpoint = async (): Promise<void> => {
    const r = await backupFiles(await openRepo(dir), { paths: [src], workers: 0 });
    trees.push(r.snapshot.tree);
  };
  await checkpoint();
  // Changes: content, a new file, a removed folder, a file turned into a folder, a folder into a file,
  // a link retargeted, a mode and a time changed alone.
  writeFileSync(join(src, 'a.txt'), 'alpha, changed\n');
  writeFileSync(join(src, 'new.txt'), 'new\n');
  rmSync(join(src, 'docs', 'old'), { recursive: true });
  writeFileSync(join(src, 'docs', 'old'), 'now a file\n');
  rmSync(join(src, 'link'));
  symlinkSync('docs', join(src, 'link'));
  chmodSync(join(src, 'docs', 'b.txt'), 0o600);
  utimesSync(join(src, 'new.txt'), new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  await checkpoint();
  rmSync(join(src, 'docs', 'old'));
  mkdirSync(join(src, 'docs', 'old'));
  writeFileSync(join(src, 'docs', 'old', 'd.txt'), 'delta\n');
  rmSync(join(src, 'new.txt'));
  await checkpoint();

  const repo = await openRepo(dir);
  const mirror = join(replica, src);
  // The first apply compares with the (empty) disk; each next one with the tree before.
  let prev: string | undefined;
  const keepIno: number[] = [];
  for (const [i, tree] of trees.entries()) {
    const r = await applyTree(repo, prev, tree, replica);
    assert.deepEqual(r.warnings, []);
    prev = tree;
    // The replica equals what the source was at that checkpoint: restore it whole to compare.
    const snaps = (await loadSnapshots(repo)).sort((a, b) => a.time.localeCompare(b.time));
    const expect = join(dir, `expect-${i}`);
    const { restoreFiles } = await import('../../src/sources/files/index.ts');
    await restoreFiles(repo, snaps[i]!, { target: expect, workers: 0 });
    assert.deepEqual(compareTrees(join(expect, src), mirror, { owner: false }), [], `checkpoint ${i}`);
    keepIno.push(statSync(join(mirror, 'keep.bin')).ino);
    if (i > 0) assert.ok(r.written < 6, `only what changed is written (${r.written})`);
  }
  assert.equal(new Set(keepIno).size, 1, 'an unchanged file is never rewritten');

  // A crash in the middle of an apply: a temp file left, a file half changed, an extra file. Applying the
  // last checkpoint again against the disk puts it right.
  writeFileSync(join(mirror, '.lb-apply-deadbeef0000'), 'half written');
  writeFileSync(join(mirror, 'a.txt'), 'garbage');
  writeFileSync(join(mirror, 'stray'), 'x');
  const fixed = await applyTree(repo, undefined, trees.at(-1)!, replica);
  assert.ok(fixed.written >= 1 && fixed.removed >= 2, JSON.stringify(fixed));
  assert.equal(readFileSync(join(mirror, 'a.txt'), 'utf8'), 'alpha, changed\n');
  const expect = join(dir, 'expect-2');
  assert.deepEqual(compareTrees(join(expect, src), mirror, { owner: false }), []);
});
