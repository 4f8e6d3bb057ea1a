/**
 * "An entire system": a whole Debian root file system (debootstrap, cached by scripts/make-rootfs.sh)
 * backed up with one-file-system and restored into an empty folder keeps every owner, mode, time, link,
 * device node and extended attribute, file capabilities included.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { loadSnapshots } from '../../src/repo/index.ts';
import { backupFiles, restoreFiles } from '../../src/sources/files/index.ts';
import { newRepo, openRepo, tempDir } from '../helpers/repo.ts';
import { compareTrees, listTree } from '../helpers/tree.ts';
import { readMeta } from '../../src/sources/files/index.ts';

it('backs up and restores a whole Linux root file system with every detail', { timeout: 15 * 60_000 }, async (t) => {
  const rootfs = execFileSync('bash', ['scripts/make-rootfs.sh'], { encoding: 'utf8' }).trim();
  const dir = await tempDir(t);
  const repo = await newRepo(dir);
  const r = await backupFiles(repo, { paths: [rootfs], oneFileSystem: true });
  assert.deepEqual(r.warnings.filter((w) => w.kind !== 'skipped'), []);
  const target = join(dir, 'restore');
  const [snap] = await loadSnapshots(await openRepo(dir));
  const res = await restoreFiles(await openRepo(dir), snap!, { target, verify: true });
  assert.deepEqual(res.warnings, []);
  const restored = join(target, rootfs);
  // Sockets are not backed up (useless without their process); everything else must be identical.
  const sockets = new Set(listTree(rootfs).filter((rel) => readMeta(join(rootfs, rel)).type === 'socket'));
  assert.deepEqual(compareTrees(rootfs, restored, { ignore: (rel) => sockets.has(rel) }), []);
  // The kinds of entry this test is about are really there.
  const kinds = new Map<string, number>();
  let setuid = 0;
  let hardlinked = 0;
  for (const rel of listTree(restored)) {
    const m = readMeta(join(restored, rel));
    kinds.set(m.type, (kinds.get(m.type) ?? 0) + 1);
    if (m.mode & 0o4000) setuid++;
    if (m.type === 'file' && m.nlink > 1) hardlinked++;
  }
  assert.ok((kinds.get('file') ?? 0) > 3000, `files: ${kinds.get('file')}`);
  assert.ok((kinds.get('symlink') ?? 0) > 100);
  assert.ok((kinds.get('chardev') ?? 0) >= 1 && (kinds.get('blockdev') ?? 0) >= 1, JSON.stringify([...kinds]));
  assert.ok((kinds.get('fifo') ?? 0) >= 1);
  assert.ok(setuid >= 3, `setuid files: ${setuid}`);
  assert.ok(hardlinked >= 2, `hard-linked files: ${hardlinked}`);
  assert.match(execFileSync('getcap', [join(restored, 'usr/bin/ping')], { encoding: 'utf8' }), /cap_net_raw=ep/);
});
