/**
 * The format specification (docs/repository-format.md) against the library: a reader written from the
 * specification alone (independent-reader.mjs, which imports nothing from src/) must read back exactly what
 * the library backed up, and the specification's chunker must cut exactly where the library does.
 */
import * as assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import {
  appendFileSync,
  cpSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalBackend } from '../../src/repo/backend/index.ts';
import {
  aad,
  blobId,
  Chunker,
  loadSnapshots,
  Lock,
  open,
  readPackHeader,
  rebuildIndex,
  Repository,
  type ChunkerParams,
  type TreeNode,
} from '../../src/repo/index.ts';
import { backupFiles } from '../../src/sources/files/index.ts';
import { newRepo, openRepo, PASSWORD, tempDir, TEST_KDF } from '../helpers/repo.ts';

type Kind = 'config' | 'key' | 'snapshot' | 'index' | 'lock' | 'pack-header' | 'blob';

interface Location {
  pack: string;
  type: 'data' | 'tree';
  offset: number;
  length: number;
  rawLength: number;
  compression: number;
}

interface Opened {
  master: { encryption: Buffer; mac: Buffer; keyId: string; skipped: string[] };
  config: { version: number; chunker: ChunkerParams & { seed: string } };
  index: Map<string, Location[]>;
  snapshots: Array<{ id: string; time: string; tree: string }>;
  latest: { id: string; tree: string } | undefined;
  nodes: Map<string, TreeNode>;
  files: Map<string, Buffer>;
  locks: Array<{ id: string; time: string; refreshed: string; exclusive: boolean; hostname: string; pid: number; purpose?: string }>;
  loadBlob(id: string, type: 'data' | 'tree'): Buffer;
}

interface Reader {
  readRepository(dir: string, password: string): Promise<Map<string, Buffer>>;
  openRepository(dir: string, password: string): Promise<Opened>;
  cutPoints(seed: Uint8Array, params: ChunkerParams, data: Uint8Array): number[];
  gearTable(seed: Uint8Array): Uint32Array;
  aad(kind: Kind): Buffer;
  blobId(mac: Uint8Array, plaintext: Uint8Array, type?: 'data' | 'tree'): string;
  sealWithNonce(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Buffer;
  unseal(key: Uint8Array, sealed: Uint8Array, ad?: Uint8Array): Buffer;
  openJson(key: Uint8Array, sealed: Uint8Array, kind: Kind): unknown;
  openIndex(key: Uint8Array, sealed: Uint8Array): unknown;
  parsePackHeader(encryption: Uint8Array, pack: Buffer): Array<Omit<Location, 'pack'> & { id: string }>;
  scryptParamsOk(p: { N: unknown; r: unknown; p: unknown }): boolean;
  validSnapshot(s: unknown): boolean;
  zstdContentSize(frame: Uint8Array): number | undefined;
}

// A computed specifier keeps TypeScript from wanting declarations for the plain JavaScript module.
const reader = (await import(new URL('./independent-reader.mjs', import.meta.url).href)) as Reader;

/** Every regular file under `root`, by absolute path (symlinks not followed). */
function filesOnDisk(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(p, readFileSync(p));
    }
  };
  walk(root);
  return out;
}

function libraryCuts(seed: Uint8Array, params: ChunkerParams, data: Uint8Array): number[] {
  const ends: number[] = [];
  let pos = 0;
  for (const c of new Chunker(seed, params).split(data)) ends.push((pos += c.length));
  return ends;
}

/** A varied source tree: empty, tiny, text, compressible, random multi-chunk files, links, nesting. */
function makeTree(src: string, big: number): void {
  mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
  mkdirSync(join(src, 'empty-dir'));
  writeFileSync(join(src, 'empty'), '');
  writeFileSync(join(src, 'tiny.txt'), 'hi\n');
  writeFileSync(join(src, 'sub', 'notes.md'), '# notes\n'.repeat(500));
  writeFileSync(join(src, 'sub', 'deeper', 'zeros.bin'), Buffer.alloc(big));
  writeFileSync(join(src, 'random.bin'), randomBytes(big + 12345));
  writeFileSync(join(src, 'sub', 'grüße ✓.txt'), 'unicode name\n');
  const text = Array.from({ length: 40_000 }, (_, i) => `line ${i} ${i % 7 === 0 ? 'seven' : 'other'}\n`).join('');
  writeFileSync(join(src, 'sub', 'log.txt'), text);
  linkSync(join(src, 'tiny.txt'), join(src, 'sub', 'hardlink.txt'));
  symlinkSync('tiny.txt', join(src, 'link-to-tiny'));
  // Valid tree JSON as file content: a data blob with the same plaintext as the empty directory's tree.
  writeFileSync(join(src, 'looks-like-a-tree.json'), '{"nodes":[]}');
  // Names whose UTF-16 order differs from their UTF-8 byte order (U+FF7E vs U+1F600, a surrogate pair).
  writeFileSync(join(src, 'sub', '\uff7e.txt'), 'halfwidth\n');
  writeFileSync(join(src, 'sub', '\u{1f600}.txt'), 'emoji\n');
}

/** Is `names` in ascending order of UTF-8 bytes (§10)? */
function utf8Sorted(names: string[]): boolean {
  return names.every((n, i) => i === 0 || Buffer.compare(Buffer.from(names[i - 1]!), Buffer.from(n)) < 0);
}

/** The library's location of every indexed blob, from a freshly opened repository. */
async function libraryIndex(dir: string): Promise<Map<string, Location & { id: string }>> {
  const repo = await openRepo(dir);
  await repo.loadIndex();
  return new Map([...repo.index.entries()].map((e) => [e.id, e]));
}

const sameLocation = (a: Location, b: Location): boolean =>
  a.pack === b.pack && a.type === b.type && a.offset === b.offset && a.length === b.length && a.rawLength === b.rawLength && a.compression === b.compression;

/** The documents of every index file, opened with the reader. */
function indexDocuments(dir: string, encryption: Buffer): Array<Record<string, unknown>> {
  const folder = join(dir, 'repo', 'index');
  return readdirSync(folder).map((n) => reader.openIndex(encryption, readFileSync(join(folder, n))) as Record<string, unknown>);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('independent reader (docs/repository-format.md)', () => {
  it('reads back exactly the bytes the library backed up, from the latest snapshot', async (t) => {
    const dir = await tempDir(t, 'lb-format-');
    const repo = await newRepo(dir);
    const src = join(dir, 'src');
    mkdirSync(src);
    makeTree(src, 3 * 1024 * 1024);
    await backupFiles(repo, { paths: [src], workers: 0 });
    // Change things so that only the latest snapshot has the expected contents.
    await sleep(5);
    appendFileSync(join(src, 'tiny.txt'), 'more\n');
    writeFileSync(join(src, 'sub', 'new.txt'), 'new file\n');
    await backupFiles(repo, { paths: [src], workers: 0 });
    // Temp files left by a crash are not part of the repository.
    writeFileSync(join(dir, 'repo', 'snapshots', '.tmp-0123456789abcdef'), 'garbage');
    writeFileSync(join(dir, 'repo', 'data', '00', '.tmp-0123456789abcdef'), 'garbage');

    const got = await reader.readRepository(join(dir, 'repo'), PASSWORD);
    const want = filesOnDisk(src);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [path, bytes] of want) assert.ok(got.get(path)!.equals(bytes), `content of ${path}`);
  });

  it('agrees with the library on keys, config, index, pack headers, trees and chunk ids', async (t) => {
    const dir = await tempDir(t, 'lb-format-');
    const params = { min: 512, avg: 2048, max: 8192 };
    const repo = await Repository.init(new LocalBackend(join(dir, 'repo')), PASSWORD, { kdf: TEST_KDF, chunker: params });
    await repo.addPassword('a second password', TEST_KDF);
    const src = join(dir, 'src');
    mkdirSync(src);
    makeTree(src, 200 * 1024);
    const { id: snapId } = await backupFiles(repo, { paths: [src], workers: 0 });

    // A lock held while the reader looks (§12).
    const lock = await Lock.acquire(repo, { exclusive: false, purpose: 'format-test' });
    let r: Opened;
    try {
      r = await reader.openRepository(join(dir, 'repo'), PASSWORD);
    } finally {
      await lock.release();
    }
    assert.equal(r.locks.length, 1);
    assert.equal(r.locks[0]!.id, lock.id);
    assert.equal(r.locks[0]!.purpose, 'format-test');
    assert.equal(r.locks[0]!.exclusive, false);
    assert.equal(r.locks[0]!.pid, process.pid);
    assert.ok(r.master.encryption.equals(repo.master.encryption));
    assert.ok(r.master.mac.equals(repo.master.mac));
    assert.deepEqual(r.config, repo.config);
    assert.equal(r.latest?.id, snapId);
    const second = await reader.openRepository(join(dir, 'repo'), 'a second password');
    assert.ok(second.master.mac.equals(repo.master.mac));
    await assert.rejects(reader.readRepository(join(dir, 'repo'), 'not the password'), /wrong password/);

    // Every blob the library indexed, at the same place: the reader's first location is the library's.
    const lib = await libraryIndex(dir);
    assert.equal(r.index.size, lib.size);
    for (const [id, e] of lib) assert.ok(sameLocation(r.index.get(id)![0]!, e), `location of ${id}`);
    // No index file carries `supersedes` (§9).
    for (const doc of indexDocuments(dir, r.master.encryption)) assert.equal(doc['supersedes'], undefined);

    // Pack names and headers agree with the index.
    const packs = new Set([...r.index.values()].flatMap((ls) => ls.map((l) => l.pack)));
    for (const pack of packs) {
      const bytes = readFileSync(join(dir, 'repo', 'data', pack.slice(0, 2), pack));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), pack);
      for (const h of reader.parsePackHeader(r.master.encryption, bytes)) {
        const loc = r.index.get(h.id)!.find((l) => l.pack === pack)!;
        assert.deepEqual({ type: h.type, offset: h.offset, length: h.length, rawLength: h.rawLength, compression: h.compression }, {
          type: loc.type,
          offset: loc.offset,
          length: loc.length,
          rawLength: loc.rawLength,
          compression: loc.compression,
        });
      }
    }
    assert.ok([...r.index.values()].some((ls) => ls.some((l) => l.compression === 1)), 'some blob is zstd-compressed');
    assert.ok([...r.index.values()].some((ls) => ls.some((l) => l.compression === 0)), 'some blob is stored raw');

    // The same files, and every file's chunk ids are what the specification's chunker and blob id give.
    const want = filesOnDisk(src);
    assert.deepEqual([...r.files.keys()].sort(), [...want.keys()].sort());
    const seed = Buffer.from(r.config.chunker.seed, 'hex');
    let multiChunk = 0;
    for (const [path, bytes] of want) {
      assert.ok(r.files.get(path)!.equals(bytes), `content of ${path}`);
      const node = r.nodes.get(path)!;
      let start = 0;
      const ids: string[] = reader.cutPoints(seed, r.config.chunker, bytes).map((end) => {
        const id = reader.blobId(r.master.mac, bytes.subarray(start, end));
        start = end;
        return id;
      });
      assert.deepEqual(node.content, ids, `chunk ids of ${path}`);
      assert.equal(node.size, bytes.length);
      if (ids.length > 1) multiChunk++;
    }
    assert.ok(multiChunk >= 3, 'several files span several chunks');

    // Blob ids are domain-separated (§7.1): the file that looks like a tree and the empty directory's tree
    // have the same plaintext and different ids, each stored under its own type.
    const fake = r.nodes.get(join(src, 'looks-like-a-tree.json'))!;
    const empty = r.nodes.get(join(src, 'empty-dir'))!;
    const plain = Buffer.from('{"nodes":[]}');
    assert.deepEqual(fake.content, [reader.blobId(r.master.mac, plain, 'data')]);
    assert.equal(empty.subtree, reader.blobId(r.master.mac, plain, 'tree'));
    assert.notEqual(fake.content![0], empty.subtree);
    assert.equal(r.index.get(empty.subtree!)![0]!.type, 'tree');
    assert.equal(r.index.get(fake.content![0]!)![0]!.type, 'data');
    assert.throws(() => r.loadBlob(empty.subtree!, 'data'), /not in the index/);

    // Trees: ids of the tree domain, nodes in UTF-8 byte order (§10).
    const subTree = r.loadBlob(r.nodes.get(join(src, 'sub'))!.subtree!, 'tree');
    assert.equal(reader.blobId(r.master.mac, subTree, 'tree'), r.nodes.get(join(src, 'sub'))!.subtree);
    const names = (JSON.parse(subTree.toString()) as { nodes: TreeNode[] }).nodes.map((n) => n.name);
    assert.ok(utf8Sorted(names), names.join(' | '));
    assert.ok(names.indexOf('\uff7e.txt') < names.indexOf('\u{1f600}.txt'), 'U+FF7E sorts before U+1F600 in UTF-8');

    // Node fields the specification describes.
    const link = r.nodes.get(join(src, 'link-to-tiny'))!;
    assert.equal(link.type, 'symlink');
    assert.equal(link.linktarget, 'tiny.txt');
    const sub = r.nodes.get(join(src, 'sub'))!;
    assert.equal(sub.type, 'dir');
    assert.equal(sub.atime, undefined);
    assert.match(sub.mtime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const tiny = r.nodes.get(join(src, 'tiny.txt'))!;
    assert.equal(tiny.mode! & ~0o7777, 0, 'mode holds permission bits only');
    assert.ok(tiny.links! >= 2);
    assert.equal(r.nodes.get(join(src, 'sub', 'hardlink.txt'))!.inode, tiny.inode);
    // The root tree mirrors the absolute path from '/'.
    const top = src.split('/').filter(Boolean)[0]!;
    assert.equal(r.nodes.get(`/${top}`)!.type, 'dir');
  });

  it('skips the key files the library skips, and agrees on the scrypt bounds', async (t) => {
    const dir = await tempDir(t, 'lb-format-');
    const repo = await newRepo(dir);
    const keys = join(dir, 'repo', 'keys');
    const [good] = readdirSync(keys);
    const goodJson = JSON.parse(readFileSync(join(keys, good!), 'utf8')) as Record<string, unknown>;
    const plant = (bytes: Buffer): void => writeFileSync(join(keys, createHash('sha256').update(bytes).digest('hex')), bytes);
    const variant = (change: Record<string, unknown>): Buffer => Buffer.from(JSON.stringify({ ...goodJson, ...change }, null, 2) + '\n');
    // Unusable: not JSON, wrong version, unknown kdf, and scrypt parameters out of range (which would ask for
    // up to 16 GiB if derived). Each is named by its SHA-256, so only its contents are wrong.
    const unusable = [
      Buffer.from('not json'),
      variant({ version: 2 }),
      variant({ kdf: 'argon2id' }),
      variant({ N: 2 ** 23 }),
      variant({ N: 2 ** 22, r: 16 }),
      variant({ N: 3000 }),
      variant({ p: 17 }),
      variant({ r: 0 }),
    ];
    for (const b of unusable) plant(b);
    // Usable but not for this password: in range, and its sealed payload does not open.
    plant(variant({ salt: randomBytes(32).toString('base64'), N: 1024, r: 1, p: 1 }));
    // A name that does not match the contents.
    writeFileSync(join(keys, 'f'.repeat(64)), variant({ version: 1 }));

    const r = await reader.openRepository(join(dir, 'repo'), PASSWORD);
    assert.ok(r.master.mac.equals(repo.master.mac));
    await openRepo(dir);
    const n = unusable.length + 1;
    await assert.rejects(reader.openRepository(join(dir, 'repo'), 'nope'), new RegExp(`wrong password \\(${n} unusable key file`));
    // The library tells damage from a format it does not know (version 2, an unknown kdf: a newer writer's).
    await assert.rejects(openRepo(dir, 'nope'), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'WRONG_PASSWORD');
      assert.ok(err.message.includes(`(${n - 2} damaged key file(s) skipped`), err.message);
      assert.ok(err.message.includes('2 key file(s) in a format this version does not know skipped'), err.message);
      assert.match(err.hint ?? '', /newer Lifeboat/);
      return true;
    });

    const ok = (N: unknown, r: unknown, p: unknown): boolean => reader.scryptParamsOk({ N, r, p });
    assert.ok(ok(1024, 8, 1) && ok(2 ** 17, 8, 1) && ok(2 ** 22, 8, 1) && ok(2 ** 21, 16, 16) && ok(1024, 32, 1));
    assert.ok(!ok(512, 8, 1) && !ok(2 ** 23, 1, 1) && !ok(3000, 8, 1) && !ok(2 ** 22, 9, 1) && !ok(1024, 33, 1) && !ok(1024, 8, 17));
    assert.ok(!ok(1024, 8, 0) && !ok(1024, 1.5, 1) && !ok('1024', 8, 1) && !ok(undefined, 8, 1));
  });

  it('opens key files of both KDFs: scrypt-lanes (written now, lanes side by side) and plain scrypt', async (t) => {
    const dir = await tempDir(t, 'lb-format-');
    const repo = await newRepo(dir);
    const keys = join(dir, 'repo', 'keys');
    // A second password with three lanes: what the library writes.
    const lanesId = await repo.addPassword('lanes password', { N: 1024, r: 8, p: 3 });
    const lanesJson = JSON.parse(readFileSync(join(keys, lanesId), 'utf8')) as Record<string, unknown>;
    assert.equal(lanesJson['kdf'], 'scrypt-lanes');
    assert.equal(lanesJson['p'], 3);
    // A key file as written before 2026-11-30: W = scrypt(pw, salt, N, r, p), sealed by the specification.
    const salt = randomBytes(32);
    const w = scryptSync(Buffer.from('legacy password'), salt, 32, { N: 1024, r: 8, p: 2 });
    const payload = Buffer.from(JSON.stringify({ encryption: repo.master.encryption.toString('base64'), mac: repo.master.mac.toString('base64') }));
    const legacy = Buffer.from(JSON.stringify({
      version: 1, created: new Date(0).toISOString(), hostname: 'h', username: 'u', kdf: 'scrypt', N: 1024, r: 8, p: 2,
      salt: salt.toString('base64'), data: reader.sealWithNonce(w, randomBytes(24), payload, reader.aad('key')).toString('base64'),
    }, null, 2) + '\n');
    writeFileSync(join(keys, createHash('sha256').update(legacy).digest('hex')), legacy);
    // The same file with its kdf renamed does not open: the two derivations differ.
    const renamed = Buffer.from(legacy.toString('utf8').replace('"scrypt"', '"scrypt-lanes"'));
    writeFileSync(join(keys, createHash('sha256').update(renamed).digest('hex')), renamed);

    for (const pw of ['lanes password', 'legacy password', PASSWORD]) {
      assert.ok((await reader.openRepository(join(dir, 'repo'), pw)).master.mac.equals(repo.master.mac), `reader, ${pw}`);
      assert.ok((await openRepo(dir, pw)).master.mac.equals(repo.master.mac), `library, ${pw}`);
    }
    await assert.rejects(openRepo(dir, 'renamed'), { code: 'WRONG_PASSWORD' });
  });

  it('skips a key file holding JSON null', async (t) => {
    const dir = await tempDir(t, 'lb-format-');
    const repo = await newRepo(dir);
    const bytes = Buffer.from('null');
    writeFileSync(join(dir, 'repo', 'keys', createHash('sha256').update(bytes).digest('hex')), bytes);
    assert.ok((await reader.openRepository(join(dir, 'repo'), PASSWORD)).master.mac.equals(repo.master.mac));
    // A wrong password tries every key file, so the outcome does not depend on how the names sort.
    await assert.rejects(reader.openRepository(join(dir, 'repo'), 'nope'), /wrong password \(1 unusable key file/);
    await assert.rejects(openRepo(dir, 'nope'), { code: 'WRONG_PASSWORD' });
  });

  it('refuses objects planted as another kind, invalid snapshots and unknown pack blob types', async (t) => {
    const dir = await tempDir(t, 'lb-format-');
    const repo = await newRepo(dir);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    await backupFiles(repo, { paths: [src], workers: 0 });
    const root = join(dir, 'repo');
    const { encryption } = repo.master;

    // Every kind is sealed with its own AAD (§4): each file opens with its kind's and no other.
    const kinds: Array<[Kind, Buffer]> = [
      ['config', readFileSync(join(root, 'config'))],
      ['snapshot', readFileSync(join(root, 'snapshots', readdirSync(join(root, 'snapshots'))[0]!))],
      ['index', readFileSync(join(root, 'index', readdirSync(join(root, 'index'))[0]!))],
    ];
    for (const [kind, bytes] of kinds) {
      reader.unseal(encryption, bytes, reader.aad(kind));
      for (const other of ['config', 'snapshot', 'index', 'lock', 'key', 'blob', 'pack-header'] as Kind[]) {
        if (other !== kind) assert.throws(() => reader.unseal(encryption, bytes, reader.aad(other)), `${kind} opened as ${other}`);
      }
      assert.throws(() => reader.unseal(encryption, bytes), `${kind} opened without AAD`);
    }

    // An index file copied into snapshots/ under its own name: both refuse it.
    const [idx] = readdirSync(join(root, 'index'));
    cpSync(join(root, 'index', idx!), join(root, 'snapshots', idx!));
    await assert.rejects(reader.openRepository(root, PASSWORD));
    const problems: string[] = [];
    assert.equal((await loadSnapshots(await openRepo(dir), { onError: (id) => problems.push(id) })).length, 1);
    assert.deepEqual(problems, [idx]);
    rmSync(join(root, 'snapshots', idx!));

    // A properly sealed snapshot document that fails the checks of §11.
    const bad = await repo.saveJson('snapshot', { time: 'yesterday', tree: 'ab', paths: ['/x'], hostname: 'h' });
    await assert.rejects(reader.openRepository(root, PASSWORD), /not a valid snapshot/);
    problems.length = 0;
    assert.equal((await loadSnapshots(await openRepo(dir), { onError: (id) => problems.push(id) })).length, 1);
    assert.deepEqual(problems, [bad]);
    rmSync(join(root, 'snapshots', bad));
    const valid = { time: '2024-01-02T03:04:05.678Z', tree: 'a'.repeat(64), paths: ['/x'], hostname: 'h' };
    assert.ok(reader.validSnapshot(valid) && reader.validSnapshot({ ...valid, tags: ['t'] }));
    for (const broken of [{ ...valid, time: 'x' }, { ...valid, tree: 'A'.repeat(64) }, { ...valid, paths: [1] }, { ...valid, hostname: 1 }, { ...valid, tags: 't' }, null, []]) {
      assert.ok(!reader.validSnapshot(broken), JSON.stringify(broken));
    }

    // A pack whose header names blob type 2 (§8): both refuse it; with type 1 both read it.
    const makePack = (typeByte: number): Buffer => {
      const plain = Buffer.from('{"nodes":[]}');
      const blob = reader.sealWithNonce(encryption, randomBytes(24), plain, reader.aad('blob'));
      const header = Buffer.alloc(48);
      header[0] = typeByte;
      header.writeUInt32LE(0, 4);
      header.writeUInt32LE(blob.length, 8);
      header.writeUInt32LE(plain.length, 12);
      Buffer.from(reader.blobId(repo.master.mac, plain, 'tree'), 'hex').copy(header, 16);
      const sealedHeader = reader.sealWithNonce(encryption, randomBytes(24), header, reader.aad('pack-header'));
      const len = Buffer.alloc(4);
      len.writeUInt32LE(sealedHeader.length);
      return Buffer.concat([blob, sealedHeader, len]);
    };
    for (const typeByte of [1, 2]) {
      const pack = makePack(typeByte);
      const name = createHash('sha256').update(pack).digest('hex');
      mkdirSync(join(root, 'data', name.slice(0, 2)), { recursive: true });
      writeFileSync(join(root, 'data', name.slice(0, 2), name), pack);
      if (typeByte === 1) {
        assert.equal(reader.parsePackHeader(encryption, pack)[0]!.type, 'tree');
        assert.equal((await readPackHeader(repo, name, pack.length))[0]!.type, 'tree');
      } else {
        assert.throws(() => reader.parsePackHeader(encryption, pack), /unknown blob type 2/);
        await assert.rejects(readPackHeader(repo, name, pack.length), /unknown blob type 2/);
      }
      rmSync(join(root, 'data', name.slice(0, 2), name));
    }
  });

  it('reads indexes the library adopted or rebuilt from pack headers, first location in name order', async (t) => {
    const dir = await tempDir(t, 'lb-format-');
    const root = join(dir, 'repo');
    await Repository.init(new LocalBackend(root), PASSWORD, { kdf: TEST_KDF, chunker: { min: 512, avg: 2048, max: 8192 } });
    const src = join(dir, 'src');
    mkdirSync(src);
    makeTree(src, 100 * 1024);
    await backupFiles(await openRepo(dir), { paths: [src], workers: 0 });
    const first = await reader.openRepository(root, PASSWORD);
    // Lose the index and set the packs aside: the next backup stores every blob again, in new packs.
    for (const n of readdirSync(join(root, 'index'))) rmSync(join(root, 'index', n));
    renameSync(join(root, 'data'), join(dir, 'data-aside'));
    mkdirSync(join(root, 'data')); // its subfolders may be missing (§3)
    await sleep(5);
    await backupFiles(await openRepo(dir), { paths: [src], workers: 0 });
    // The old packs come back without an index: orphans, which readers ignore and the next backup adopts.
    cpSync(join(dir, 'data-aside'), join(root, 'data'), { recursive: true });
    const before = await reader.openRepository(root, PASSWORD);
    await sleep(5);
    writeFileSync(join(src, 'after.txt'), 'after\n');
    await backupFiles(await openRepo(dir), { paths: [src], workers: 0 });

    const check = async (): Promise<void> => {
      const r = await reader.openRepository(root, PASSWORD);
      const want = filesOnDisk(src);
      assert.deepEqual([...r.files.keys()].sort(), [...want.keys()].sort());
      for (const [path, bytes] of want) assert.ok(r.files.get(path)!.equals(bytes), `content of ${path}`);
      const lib = await libraryIndex(dir);
      assert.equal(r.index.size, lib.size);
      for (const [id, e] of lib) assert.ok(sameLocation(r.index.get(id)![0]!, e), `first location of ${id}`);
      for (const doc of indexDocuments(dir, r.master.encryption)) assert.equal(doc['supersedes'], undefined);
    };
    // Adopted: every blob both earlier backups stored is now in two packs, listed by two index files.
    await check();
    const r = await reader.openRepository(root, PASSWORD);
    const both = [...first.index.keys()].filter((id) => before.index.has(id));
    assert.ok(both.length > first.index.size - 10, 'the second backup stored nearly every blob again'); // trees with atimes differ
    for (const id of both) assert.equal(r.index.get(id)!.length, 2, `copies of ${id}`);
    // Rebuilt from pack headers: one index file (duplicates inside it), same contents.
    await rebuildIndex(await openRepo(dir));
    assert.equal(readdirSync(join(root, 'index')).length, 1);
    await check();
  });

  it('cuts chunks exactly where the library does', () => {
    const paramSets: ChunkerParams[] = [
      { min: 64, avg: 256, max: 1024 },
      { min: 100, avg: 512, max: 700 },
      { min: 2048, avg: 8192, max: 65536 },
      { min: 256 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024 },
    ];
    const inputs: Array<[string, Buffer]> = [
      ['random', randomBytes(3 * 1024 * 1024 + 17)],
      ['zeros', Buffer.alloc(300_000)],
      ['text', Buffer.from(Array.from({ length: 30_000 }, (_, i) => `row ${i}: ${(i * 2654435761) % 1000}\n`).join(''))],
      ['short', randomBytes(65)],
      ['empty', Buffer.alloc(0)],
    ];
    for (const params of paramSets) {
      for (let s = 0; s < 3; s++) {
        const seed = randomBytes(32);
        for (const [what, data] of inputs) {
          const mine = reader.cutPoints(seed, params, data);
          assert.deepEqual(mine, libraryCuts(seed, params, data), `${what} with ${JSON.stringify(params)}`);
          if (data.length > 0) assert.equal(mine.at(-1), data.length);
        }
      }
    }
  });

  it('reproduces the test vectors printed in the specification', () => {
    // §4 sealing.
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const nonce = Buffer.from(Array.from({ length: 24 }, (_, i) => 0x40 + i));
    const sealed = reader.sealWithNonce(key, nonce, Buffer.from('lifeboat'));
    assert.equal(sealed.toString('hex'), '4041424344454647' + '48494a4b4c4d4e4f5051525354555657' + '8b19497d0e559e84' + '05fb4555e1f95ab4b83fd21197dd5b42');
    assert.equal(open({ encryption: key }, sealed, 'vector').toString(), 'lifeboat');
    assert.equal(reader.unseal(key, sealed).toString(), 'lifeboat');
    const damaged = Buffer.from(sealed);
    damaged[30]! ^= 1;
    assert.throws(() => reader.unseal(key, damaged));

    // §4 AAD per kind: same key, nonce and plaintext, so the same ciphertext and a different tag.
    const tags: Record<Kind, string> = {
      config: '2f9de07c111e525a765d999a39434f51',
      key: '546d61401e1475630b1759a070f7d366',
      snapshot: '1e3ebc3c31ab2ab8718ec6c74290eb1f',
      index: '7611935e1de98ef6a31279d62bc773b9',
      lock: 'cd2e8dc6bdecb89d29c246dfe6dc899e',
      'pack-header': '4bfc6bb57ab7612e7fbd5ff56b70368b',
      blob: '6b2ceed5d07a4330817401e2b3a1f2fe',
    };
    for (const [kind, tag] of Object.entries(tags) as Array<[Kind, string]>) {
      assert.ok(reader.aad(kind).equals(aad(kind)), `AAD of ${kind}`);
      assert.equal(reader.aad(kind).toString('latin1'), `lifeboat:${kind}`);
      const s = reader.sealWithNonce(key, nonce, Buffer.from('lifeboat'), reader.aad(kind));
      assert.equal(s.toString('hex'), '404142434445464748494a4b4c4d4e4f5051525354555657' + '8b19497d0e559e84' + tag, `sealed ${kind}`);
      assert.equal(open({ encryption: key }, s, 'vector', aad(kind)).toString(), 'lifeboat');
      assert.throws(() => open({ encryption: key }, s, 'vector'));
      assert.throws(() => reader.unseal(key, s));
    }

    // §7.1 blob ids.
    const mac = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x20 + i));
    const ids: Array<[string, 'data' | 'tree', string]> = [
      ['lifeboat', 'data', '380669295d8df6ed2943432cae891e07f63fcd034083dc2d052c9523483a87cb'],
      ['lifeboat', 'tree', 'd6114d9e45c18acd078a8d314acce3437724e51c884b37f1512db9dc9e677da6'],
      ['{"nodes":[]}', 'data', 'f75678631a639bad1939d84674b3ddda7904908b49d8b2f0ca0e17c3b01b31c0'],
      ['{"nodes":[]}', 'tree', '652e0c3c382f757ab9b23d2f5addf634e7050c9a63f4c1c514066f310a0e8883'],
    ];
    for (const [text, type, id] of ids) {
      assert.equal(reader.blobId(mac, Buffer.from(text), type), id, `${type} id of ${text}`);
      assert.equal(blobId({ mac }, Buffer.from(text), type), id);
    }

    // §13 gear table and cut points.
    const gear = Int32Array.from(reader.gearTable(Buffer.alloc(32)));
    assert.deepEqual([gear[0], gear[1], gear[2], gear[3], gear[255]], [2025887196, -1987493726, 346179757, -2027912046, 2129324082]);
    const data = createCipheriv('aes-256-ctr', Buffer.alloc(32, 1), Buffer.alloc(16)).update(Buffer.alloc(16384));
    const params = { min: 64, avg: 256, max: 1024 };
    const expected = [
      341, 641, 939, 1125, 1330, 1621, 1907, 2196, 2470, 2728, 2915, 3186, 3472, 3868, 3952, 4244, 4522, 4896, 5192, 5515, 5773, 6034, 6222, 6486, 6659,
      7000, 7262, 7606, 7897, 8057, 8492, 8768, 8990, 9284, 9613, 9883, 10208, 10549, 10834, 11186, 11729, 12059, 12433, 12703, 13062, 13346, 13668,
      14105, 14397, 14652, 14937, 15226, 15549, 15844, 16121, 16384,
    ];
    assert.deepEqual(reader.cutPoints(Buffer.alloc(32), params, data), expected);
    assert.deepEqual(libraryCuts(Buffer.alloc(32), params, data), expected);
  });
});
