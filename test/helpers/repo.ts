/** Test helpers: temp folders that are always removed, and repositories with cheap keys. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../../src/repo/backend/index.ts';
import { Repository } from '../../src/repo/index.ts';

export const PASSWORD = 'correct horse battery staple';
/** scrypt parameters for tests only: fast. Production keys use defaults.scryptN. */
export const TEST_KDF = { N: 1024, r: 8, p: 1 };

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }, prefix = 'lb-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  // rm(1) also removes trees deeper than PATH_MAX, which fs.rm cannot reach.
  t.after(() => rm(dir, { recursive: true, force: true }).catch(() => void execFileSync('rm', ['-rf', '--', dir])));
  return dir;
}

export async function newRepo(dir: string): Promise<Repository> {
  return Repository.init(new LocalBackend(join(dir, 'repo')), PASSWORD, { kdf: TEST_KDF });
}

export async function openRepo(dir: string, password = PASSWORD): Promise<Repository> {
  return Repository.open(new LocalBackend(join(dir, 'repo')), password);
}
