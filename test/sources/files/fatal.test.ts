/**
 * A fatal error saves no snapshot and loses nothing: a full disk or a failing write of the repository
 * in the middle of a backup stops it with a clear error; the repository still checks clean; the next
 * backup completes and reuses what was stored.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { FaultBackend, LocalBackend } from '../../../src/repo/backend/index.ts';
import { checkRepository, loadSnapshots, Repository } from '../../../src/repo/index.ts';
import { backupFiles } from '../../../src/sources/files/index.ts';
import { newRepo, openRepo, PASSWORD, tempDir } from '../../helpers/repo.ts';
import { seededBytes } from '../../helpers/tree.ts';

it('a full disk or a failed write stops the backup without a snapshot, and nothing is lost', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  for (let i = 0; i < 12; i++) writeFileSync(join(src, `f${i}.bin`), seededBytes(`fatal${i}`, 4 << 20));
  await newRepo(dir);
  const fault = new FaultBackend(new LocalBackend(join(dir, 'repo')));
  // The second pack save fails as a full disk does.
  fault.failNth('save', 'pack', 2, Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
  const repo = await Repository.open(fault, PASSWORD);
  await assert.rejects(backupFiles(repo, { paths: [src] }), (err: Error & { code?: string }) => {
    assert.ok(err.code === 'IO' || err.code === 'BACKEND' || /ENOSPC|space/.test(err.message), `${err.code}: ${err.message}`);
    return true;
  });
  assert.equal((await loadSnapshots(await openRepo(dir))).length, 0, 'no snapshot after a fatal error');
  // Packs are written as they fill: the ones being written when it failed are removed, not left as temp files.
  assert.deepEqual(readdirSync(join(dir, 'repo', 'data')).filter((n) => n.startsWith('.tmp-')), []);
  const check = await checkRepository(await openRepo(dir), { readData: true });
  assert.ok(check.ok, JSON.stringify(check.problems));
  // The lock was released: the next backup runs, completes, and reuses the pack that was stored.
  const r = await backupFiles(await openRepo(dir), { paths: [src] });
  assert.equal((await loadSnapshots(await openRepo(dir))).length, 1);
  assert.ok(r.snapshot.summary!.data_added < 48 << 20, `added ${r.snapshot.summary!.data_added}`);
  assert.ok((await checkRepository(await openRepo(dir), { readData: true })).ok);
});
