/**
 * Bad input loses nothing and is reported clearly: wrong password, tampered objects, a flipped byte in a
 * pack (found by check, named with the snapshots and files it affects, other files still restore), a
 * truncated index file, and a crafted repository whose trees try to escape the restore target.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync, openSync, readSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LifeboatError, newScratch, startWorker } from '../../src/core/index.ts';
import { FaultBackend, LocalBackend } from '../../src/repo/backend/index.ts';
import {
  aad,
  BlobWriter,
  checkRepository,
  encodeTree,
  findNode,
  listLocks,
  loadSnapshots,
  Lock,
  open,
  removeLocks,
  rebuildIndex,
  Repository,
  saveSnapshot,
  seal,
  newMasterKey,
  type TreeNode,
} from '../../src/repo/index.ts';
import { backupFiles, restoreFiles } from '../../src/sources/files/index.ts';
import { newRepo, openRepo, PASSWORD, tempDir } from '../helpers/repo.ts';
import { listTree, seededBytes } from '../helpers/tree.ts';
import { indexFileJson, packsOf } from '../../src/repo/blob-index.ts';

function fingerprint(dir: string): string {
  return listTree(dir)
    .map((r) => {
      const st = statSync(join(dir, r));
      return `${r} ${st.size} ${st.mtimeMs}`;
    })
    .join('\n');
}

describe('integrity and bad input', () => {
  it('detects any change to a sealed object and never returns the data', () => {
    const key = newMasterKey();
    const sealed = seal(key, Buffer.from('the quick brown fox'));
    assert.equal(open(key, sealed, 'x').toString(), 'the quick brown fox');
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 0x01;
      assert.throws(() => open(key, bad, 'thing'), { code: 'INTEGRITY' });
    }
    assert.throws(() => open(key, sealed.subarray(0, 30), 'thing'), { code: 'INTEGRITY' });
    assert.throws(() => open(newMasterKey(), sealed, 'thing'), { code: 'INTEGRITY' });
    // Nonces are unique: the same plaintext seals differently every time.
    assert.notDeepEqual(seal(key, Buffer.from('a')), seal(key, Buffer.from('a')));
  });

  it('opens a large object into a scratch buffer in slices, and still refuses any change to it', () => {
    const key = newMasterKey();
    const big = seededBytes('big', 300_000);
    const sealed = seal(key, big, aad('blob'));
    const scratch = newScratch();
    const opened = open(key, sealed, 'big', aad('blob'), scratch);
    assert.ok(opened.equals(big));
    assert.equal(opened.buffer, scratch.buf.buffer, 'a view into the scratch buffer');
    for (const at of [24, 24 + 65_536, 24 + 200_000, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x80;
      assert.throws(() => open(key, bad, 'big', aad('blob'), scratch), { code: 'INTEGRITY' });
    }
    // Small objects get a buffer of their own.
    const small = open(key, seal(key, Buffer.from('tiny')), 'tiny', undefined, scratch);
    assert.equal(small.toString(), 'tiny');
    assert.notEqual(small.buffer, scratch.buf.buffer);
  });

  it('never repeats a nonce: one thread counts under its prefix, each key and thread draws its own', async () => {
    const key = newMasterKey();
    const nonces = Array.from({ length: 5000 }, () => seal(key, Buffer.from('x')).subarray(0, 24));
    assert.equal(new Set(nonces.map((n) => n.toString('hex'))).size, nonces.length);
    // One context: one subkey prefix, and IVs that differ.
    assert.equal(new Set(nonces.map((n) => n.subarray(0, 16).toString('hex'))).size, 1);
    // Another key, and the same key in another thread, get other prefixes.
    const other = seal(newMasterKey(), Buffer.from('x')).subarray(0, 16);
    assert.notDeepEqual(other, nonces[0]!.subarray(0, 16));
    const w = startWorker(new URL('../helpers/seal-worker.ts', import.meta.url), key.encryption);
    const fromWorker = await new Promise<Uint8Array>((resolve, reject) => w.once('message', resolve).once('error', reject));
    await w.terminate();
    assert.notDeepEqual(Buffer.from(fromWorker).subarray(0, 16), nonces[0]!.subarray(0, 16));
    // Objects from either opens with the key (readers cache subkeys by prefix; a changed prefix still fails).
    const a = seal(key, Buffer.from('one'));
    const b = seal(key, Buffer.from('two'));
    assert.equal(open(key, a, 'a').toString(), 'one');
    assert.equal(open(key, b, 'b').toString(), 'two');
    const moved = Buffer.from(b);
    moved[3]! ^= 1;
    assert.throws(() => open(key, moved, 'b'), { code: 'INTEGRITY' });
  });

  it('refuses a wrong password with a clear error and changes nothing', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    await backupFiles(await newRepo(dir), { paths: [src] });
    const before = fingerprint(join(dir, 'repo'));
    await assert.rejects(Repository.open(new LocalBackend(join(dir, 'repo')), 'not the password'), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'WRONG_PASSWORD');
      assert.match(err.message, /wrong password/);
      assert.ok(err.hint);
      return true;
    });
    assert.equal(fingerprint(join(dir, 'repo')), before);
    await assert.rejects(Repository.open(new LocalBackend(join(dir, 'nothing-here')), PASSWORD), { code: 'REPO_NOT_FOUND' });
  });

  it('finds a flipped byte in a pack, names the pack, snapshots and files, and restores the rest', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    for (let i = 0; i < 6; i++) writeFileSync(join(src, `file-${i}.bin`), seededBytes(`f${i}`, 600_000));
    const repo = await newRepo(dir);
    const b = await backupFiles(repo, { paths: [src], workers: 0 });
    assert.ok((await checkRepository(await openRepo(dir), { readData: true })).ok);
    // Flip one byte inside the blob that holds file-3.bin.
    const r2 = await openRepo(dir);
    await r2.loadIndex();
    const snap = (await loadSnapshots(r2))[0]!;
    const node = await findNode(r2, snap.tree, join(src, 'file-3.bin'));
    const victim = node!.content![0]!;
    const loc = r2.index.get(victim)!;
    const packPath = join(dir, 'repo/data', loc.pack.slice(0, 2), loc.pack);
    const fd = openSync(packPath, 'r+');
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, loc.offset + 100);
    one[0]! ^= 0x40;
    writeSync(fd, one, 0, 1, loc.offset + 100);
    closeSync(fd);
    // Structure alone cannot see it; reading the data does, and says what it affects.
    const res = await checkRepository(await openRepo(dir), { readData: true });
    assert.equal(res.ok, false);
    const p = res.problems.find((x) => x.kind === 'pack');
    assert.ok(p, JSON.stringify(res.problems));
    assert.equal(p.id, loc.pack);
    assert.match(p.message, /damaged/);
    assert.deepEqual(p.snapshots, [b.id.slice(0, 8)]);
    assert.deepEqual(p.files, [join(src, 'file-3.bin')]);
    // Restore: the damaged file is reported and not written; every other file is intact.
    const target = join(dir, 'restore');
    const rr = await restoreFiles(await openRepo(dir), snap, { target });
    assert.deepEqual(rr.warnings.map((w) => [w.path, w.kind]), [[join(src, 'file-3.bin'), 'damaged']]);
    assert.equal(existsSync(join(target, src, 'file-3.bin')), false);
    for (const i of [0, 1, 2, 4, 5]) assert.ok(readFileSync(join(target, src, `file-${i}.bin`)).equals(seededBytes(`f${i}`, 600_000)));
  });

  it('restores every file whose range could be read when one read of a pack fails, and leaves no partial file', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    // Six files of 600 KB, in ranges of at most 1 MiB: a failed read takes the files with a chunk in it.
    for (let i = 0; i < 6; i++) writeFileSync(join(src, `file-${i}.bin`), seededBytes(`f${i}`, 600_000));
    await backupFiles(await newRepo(dir), { paths: [src], workers: 0 });
    const fault = new FaultBackend(new LocalBackend(join(dir, 'repo')));
    fault.failNth('load', 'pack', 3, new LifeboatError('IO', 'simulated read error'));
    const repo = await Repository.open(fault, PASSWORD);
    await repo.loadIndex();
    const [snap] = await loadSnapshots(repo);
    const target = join(dir, 'target');
    const rr = await restoreFiles(repo, snap!, { target });
    const failed = new Set(rr.warnings.map((w) => w.path));
    assert.ok(failed.size >= 1 && failed.size <= 3, JSON.stringify(rr.warnings));
    for (const w of rr.warnings) {
      assert.equal(w.kind, 'damaged');
      assert.match(w.message, /could not be read: simulated read error/);
    }
    for (let i = 0; i < 6; i++) {
      const path = join(target, src, `file-${i}.bin`);
      if (failed.has(join(src, `file-${i}.bin`))) assert.equal(existsSync(path), false, path);
      else assert.ok(readFileSync(path).equals(seededBytes(`f${i}`, 600_000)), path);
    }
  });

  it('reports a pack that cannot be read during check --read-data, with the files that need it', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.bin'), seededBytes('a', 3_000_000));
    writeFileSync(join(src, 'small.txt'), 'small');
    await backupFiles(await newRepo(dir), { paths: [src] });
    const fault = new FaultBackend(new LocalBackend(join(dir, 'repo')));
    fault.failNth('load', 'pack', 2, new LifeboatError('IO', 'simulated read error'));
    const res = await checkRepository(await Repository.open(fault, PASSWORD), { readData: true });
    assert.equal(res.ok, false);
    const p = res.problems.find((x) => x.kind === 'pack');
    assert.ok(p && /cannot be read: simulated read error/.test(p.message), JSON.stringify(res.problems));
    // Which pack's read fails depends on the order of concurrent reads (the data pack: a.bin; the tree
    // pack: the folders): either way the report names the snapshot and what in it is lost.
    assert.equal(p.snapshots?.length, 1, JSON.stringify(p));
    assert.ok(p.files && p.files.length > 0, JSON.stringify(p));
    // Nothing was changed: read again without the fault, the repository is whole.
    const again = await checkRepository(await openRepo(dir), { readData: true });
    assert.ok(again.ok, JSON.stringify(again.problems));
  });

  it('reports a truncated index file, and the index can be rebuilt from the packs', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.bin'), seededBytes('a', 3_000_000));
    await backupFiles(await newRepo(dir), { paths: [src] });
    const [idx] = readdirSync(join(dir, 'repo/index'));
    const path = join(dir, 'repo/index', idx!);
    truncateSync(path, Math.floor(statSync(path).size / 2));
    // Without reading data the index files are decoded on this thread; with it, in check's workers.
    for (const readData of [false, true]) {
      const res = await checkRepository(await openRepo(dir), { readData });
      assert.equal(res.ok, false);
      const p = res.problems.find((x) => x.kind === 'index');
      assert.ok(p && p.id === idx && /contents do not match the name/.test(p.message), JSON.stringify(res.problems));
    }
    // Loading the index for a restore or backup skips it, says so, and reads the packs' own headers.
    const lenient = await openRepo(dir);
    const warned: string[] = [];
    lenient.onWarning = (m) => warned.push(m);
    await lenient.loadIndex();
    assert.deepEqual([...lenient.damagedIndexFiles.keys()], [idx]);
    assert.ok(lenient.packsFromHeaders.size >= 1 && lenient.index.size > 0);
    assert.match(warned.join('\n'), /repair index/);
    const rb = await rebuildIndex(await openRepo(dir));
    assert.ok(rb.packs >= 1);
    assert.deepEqual(rb.damaged, []);
    const after = await checkRepository(await openRepo(dir), { readData: true });
    assert.ok(after.ok, JSON.stringify(after.problems));
  });

  it('reports an index file whose numbers are out of range as damaged, not read truncated', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.bin'), seededBytes('a', 300_000));
    await backupFiles(await newRepo(dir), { paths: [src] });
    const repo = await openRepo(dir);
    const [idx] = await repo.listNames('index');
    // The JSON form older writers wrote, sealed by the key as a faulty writer would have: only the value is
    // wrong (2^32 + 5 bytes in; the binary form cannot hold it).
    const j = indexFileJson(packsOf(await repo.loadIndexFile(idx!)));
    j.packs[0]!.blobs[0]!.offset = 2 ** 32 + 5;
    const bad = await repo.saveJson('index', j);
    await repo.backend.remove({ type: 'index', name: idx! });
    for (const readData of [false, true]) {
      const res = await checkRepository(await openRepo(dir), { readData });
      const p = res.problems.find((x) => x.kind === 'index');
      assert.ok(p && p.id === bad && /malformed entry/.test(p.message) && !/worker failed/.test(p.message), JSON.stringify(res.problems));
    }
    const lenient = await openRepo(dir);
    await lenient.loadIndex();
    assert.deepEqual([...lenient.damagedIndexFiles.keys()], [bad]);
  });

  it('a lock file that cannot be read blocks nobody, is listed as stale, and unlock removes it', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    // What a crash could leave of a lock if its bytes were not on disk when its rename was.
    writeFileSync(join(dir, 'repo/locks', 'ab'.repeat(32)), '');
    const [l] = await listLocks(repo);
    assert.ok(l && l.stale && /unreadable lock file/.test(l.purpose ?? ''), JSON.stringify(l));
    const prune = await Lock.acquire(repo, { exclusive: true, purpose: 'prune' });
    await prune.release();
    assert.deepEqual((await removeLocks(repo)).map((x) => x.id), ['ab'.repeat(32)]);
    assert.deepEqual(await listLocks(repo), []);
  });

  it('refuses crafted trees that would escape the restore target', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    await repo.loadIndex();
    const w = new BlobWriter(repo);
    const content = await w.store('data', Buffer.from('pwned'));
    const file = (name: string): TreeNode => ({ name, type: 'file', mode: 0o644, size: 5, content: [content], mtime: '2020-01-01T00:00:00.000000000Z' });
    const inner = await w.store('tree', encodeTree([file('beneath-link')]));
    const okTree = await w.store('tree', encodeTree([file('fine.txt')]));
    const root = await w.store(
      'tree',
      encodeTree([
        file('..'),
        file('.'),
        file('../../escaped'),
        file('a/b'),
        file(''),
        { name: 'evil-link', type: 'symlink', linktarget: '/tmp', subtree: inner },
        { name: 'dup', type: 'symlink', linktarget: '/etc' },
        { name: 'dup', type: 'dir', mode: 0o755, subtree: inner },
        { name: 'good', type: 'dir', mode: 0o755, subtree: okTree },
      ]),
    );
    await w.flush();
    const id = await saveSnapshot(repo, {
      time: new Date().toISOString(),
      tree: root,
      paths: ['/'],
      hostname: 'crafted',
      username: 'x',
      program_version: 'evil',
      source: { kind: 'files' },
      consistency: 'crash',
    });
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    const target = join(outside, 'target');
    const before = listTree(dir).filter((r) => !r.startsWith('repo'));
    const snap = (await loadSnapshots(await openRepo(dir))).find((s) => s.id === id)!;
    const res = await restoreFiles(await openRepo(dir), snap, { target });
    const unsafe = res.warnings.filter((x) => x.kind === 'unsafe');
    assert.equal(unsafe.length, 7, JSON.stringify(res.warnings, null, 1));
    assert.equal(res.warnings.length, 7);
    // Only the target gained entries: good/fine.txt and nothing else.
    assert.deepEqual(listTree(target), ['dup', 'good', 'good/fine.txt']);
    const after = listTree(dir).filter((r) => !r.startsWith('repo') && !r.startsWith('outside/target'));
    assert.deepEqual(after, before);
    assert.equal(existsSync('/tmp/beneath-link'), false);
  });
  it('reports an authentic tree that does not parse, with and without reading the data, and what it takes', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    await repo.loadIndex();
    const w = new BlobWriter(repo);
    const content = await w.store('data', Buffer.from('fine'));
    const broken = await w.store('tree', Buffer.from('{"nodes": [ not json'));
    const root = await w.store(
      'tree',
      encodeTree([
        { name: 'ok.txt', type: 'file', mode: 0o644, size: 4, content: [content] },
        { name: 'lost', type: 'dir', mode: 0o755, subtree: broken },
      ]),
    );
    await w.flush();
    await saveSnapshot(repo, {
      time: new Date().toISOString(),
      tree: root,
      paths: ['/'],
      hostname: 'h',
      username: 'x',
      program_version: 'test',
      source: { kind: 'files' },
      consistency: 'crash',
    });
    for (const readData of [false, true]) {
      for (const workers of [0, 2]) {
        const r = await checkRepository(await openRepo(dir), { readData, workers });
        assert.equal(r.ok, false);
        const p = r.problems.find((x) => x.kind === 'tree');
        assert.ok(p, JSON.stringify(r.problems));
        assert.equal(p.id, broken);
        assert.match(p.message, /not valid JSON/);
        assert.deepEqual(p.files, ['/lost']);
        assert.equal(p.snapshots?.length, 1);
        assert.equal(r.trees, 2);
        assert.equal(r.blobs, 1);
      }
    }
  });
});
