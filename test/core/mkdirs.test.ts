/** mkdir -p that ends: Node 20's recursive mkdir spins forever where a folder cannot be made in an existing parent. */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { mkdirs, mkdirsSync } from '../../src/core/index.ts';
import { tempDir } from '../helpers/repo.ts';

it('makes every missing folder, accepts one that exists, and fails (not spins) where none can be made', async (t) => {
  const dir = await tempDir(t);
  mkdirsSync(join(dir, 'a/b/c'), 0o700);
  await mkdirs(join(dir, 'x/y/z'));
  assert.ok(statSync(join(dir, 'a/b/c')).isDirectory() && statSync(join(dir, 'x/y/z')).isDirectory());
  assert.equal(statSync(join(dir, 'a/b/c')).mode & 0o777, 0o700);
  mkdirsSync(join(dir, 'a/b/c'));
  await mkdirs(join(dir, 'x/y'));
  // procfs refuses new folders with ENOENT although the parent exists.
  assert.throws(() => mkdirsSync('/proc/1/lifeboat-test/x'), { code: 'ENOENT' });
  await assert.rejects(mkdirs('/proc/1/lifeboat-test/x'), { code: 'ENOENT' });
  assert.equal(existsSync('/proc/1/lifeboat-test'), false);
});
