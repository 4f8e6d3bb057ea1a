/** Edge cases of the format found in review: type confusion of blobs, crashed init, damaged key files. */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalBackend } from '../../src/repo/backend/index.ts';
import { checkRepository, compareUtf8, encodeTree, loadSnapshots, Repository } from '../../src/repo/index.ts';
import { backupFiles, restoreFiles } from '../../src/sources/files/index.ts';
import { newRepo, openRepo, PASSWORD, TEST_KDF, tempDir } from '../helpers/repo.ts';
import { listTree } from '../helpers/tree.ts';

describe('format edge cases', () => {
  it('tree nodes sort in UTF-8 byte order, also where UTF-16 order differs', () => {
    const pick = ['a', 'Z', '_', '\u00e9', '\u4e2d', '\ud7ff', '\ue000', '\uffee', '\ud83d\ude00', '\ud800\udc00', '\udbff\udfff'];
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const names = Array.from({ length: 400 }, () => Array.from({ length: 1 + rnd(4) }, () => pick[rnd(pick.length)]).join(''));
    const expected = [...new Set(names)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const tree = JSON.parse(encodeTree(expected.map((name) => ({ name, type: 'file' as const })).reverse()).toString()) as { nodes: Array<{ name: string }> };
    assert.deepEqual(tree.nodes.map((n) => n.name), expected);
    for (let i = 0; i < 2000; i++) {
      const [a, b] = [names[rnd(names.length)]!, names[rnd(names.length)]!];
      assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  });

  it('a file whose bytes equal an empty tree does not collide with empty folders', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(join(src, 'empty'), { recursive: true });
    writeFileSync(join(src, 'looks-like-a-tree.json'), '{"nodes":[]}');
    const repo = await newRepo(dir);
    await backupFiles(repo, { paths: [join(src, 'looks-like-a-tree.json')] });
    await backupFiles(await openRepo(dir), { paths: [src] });
    const check = await checkRepository(await openRepo(dir), { readData: true });
    assert.ok(check.ok, JSON.stringify(check.problems));
    const snaps = await loadSnapshots(await openRepo(dir));
    const target = join(dir, 'r');
    const res = await restoreFiles(await openRepo(dir), snaps[1]!, { target });
    assert.deepEqual(res.warnings, []);
    assert.deepEqual(listTree(join(target, src)), ['empty', 'looks-like-a-tree.json']);
  });

  it('init can be run again over a crashed init (key written, no config)', async (t) => {
    const dir = await tempDir(t);
    await newRepo(dir);
    rmSync(join(dir, 'repo/config')); // as if init died before writing its config
    await assert.rejects(openRepo(dir), { code: 'REPO_NOT_FOUND' });
    const again = await Repository.init(new LocalBackend(join(dir, 'repo')), PASSWORD, { kdf: TEST_KDF });
    assert.equal(readdirSync(join(dir, 'repo/keys')).length, 1);
    assert.equal((await openRepo(dir)).config.id, again.config.id);
  });

  it('a damaged key file does not stop other passwords from opening the repository', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    await repo.addPassword('second password', TEST_KDF);
    const keys = readdirSync(join(dir, 'repo/keys')).sort();
    // Damage one key file (whichever sorts first) beyond recognition.
    writeFileSync(join(dir, 'repo/keys', keys[0]!), 'garbage');
    const opened = await Promise.any([openRepo(dir), openRepo(dir, 'second password')]);
    assert.equal(opened.config.id, repo.config.id);
    await assert.rejects(openRepo(dir, 'nope'), (err: Error & { code?: string }) => err.code === 'WRONG_PASSWORD' && /damaged key file/.test(err.message));
  });

  it('a key cache keeps the derivation of a password that opened a key, never of a wrong one, and a removed key is not opened from it', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    const cache = new Map<string, Buffer>();
    const open = (password: string): Promise<Repository> => Repository.open(new LocalBackend(join(dir, 'repo')), password, { keyCache: cache });
    assert.equal((await open(PASSWORD)).config.id, repo.config.id);
    assert.equal(cache.size, 1);
    assert.equal((await open(PASSWORD)).config.id, repo.config.id, 'opened again from the cache');
    assert.equal(cache.size, 1);
    await assert.rejects(open('wrong'), (err: Error & { code?: string }) => err.code === 'WRONG_PASSWORD');
    assert.equal(cache.size, 1, 'a wrong password is not kept');
    // The password changed: the old key file is gone, so the cached derivation opens nothing.
    const old = readdirSync(join(dir, 'repo/keys'));
    await repo.addPassword('new password', TEST_KDF);
    for (const k of old) rmSync(join(dir, 'repo/keys', k));
    await assert.rejects(open(PASSWORD), (err: Error & { code?: string }) => err.code === 'WRONG_PASSWORD');
    assert.equal((await open('new password')).config.id, repo.config.id);
  });

  it('refuses a sealed object planted as another kind', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    await backupFiles(await newRepo(dir), { paths: [src] });
    const [idx] = readdirSync(join(dir, 'repo/index'));
    const { copyFileSync } = await import('node:fs');
    copyFileSync(join(dir, 'repo/index', idx!), join(dir, 'repo/snapshots', idx!));
    const problems: string[] = [];
    const snaps = await loadSnapshots(await openRepo(dir), { onError: (id) => problems.push(id) });
    assert.equal(snaps.length, 1);
    assert.deepEqual(problems, [idx]);
  });
});
