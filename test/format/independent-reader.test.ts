/**
 * The format specification (docs/repository-format.md) against the library: a reader written from the
 * specification alone (independent-reader.mjs, which imports nothing from src/) must read back exactly what
 * the library backed up, and the specification's chunker must cut exactly where the library does.
 */
import * as assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { appendFileSync, linkSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalBackend } from '../../src/repo/backend/index.ts';
import { Chunker, open, Repository, type ChunkerParams, type TreeNode } from '../../src/repo/index.ts';
import { backupFiles } from '../../src/sources/files/index.ts';
import { newRepo, PASSWORD, tempDir, TEST_KDF } from '../helpers/repo.ts';

interface Location {
  pack: string;
  type: 'data' | 'tree';
  offset: number;
  length: number;
  rawLength: number;
  compression: number;
}

interface Opened {
  master: { encryption: Buffer; mac: Buffer; keyId: string };
  config: { version: number; chunker: ChunkerParams & { seed: string } };
  index: Map<string, Location[]>;
  snapshots: Array<{ id: string; time: string; tree: string }>;
  latest: { id: string; tree: string } | undefined;
  nodes: Map<string, TreeNode>;
  files: Map<string, Buffer>;
}

interface Reader {
  readRepository(dir: string, password: string): Promise<Map<string, Buffer>>;
  openRepository(dir: string, password: string): Promise<Opened>;
  cutPoints(seed: Uint8Array, params: ChunkerParams, data: Uint8Array): number[];
  gearTable(seed: Uint8Array): Uint32Array;
  blobId(mac: Uint8Array, plaintext: Uint8Array): string;
  sealWithNonce(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer;
  unseal(key: Uint8Array, sealed: Uint8Array): Buffer;
  parsePackHeader(encryption: Uint8Array, pack: Buffer): Array<Omit<Location, 'pack'> & { id: string }>;
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

    const r = await reader.openRepository(join(dir, 'repo'), PASSWORD);
    assert.ok(r.master.encryption.equals(repo.master.encryption));
    assert.ok(r.master.mac.equals(repo.master.mac));
    assert.deepEqual(r.config, repo.config);
    assert.equal(r.latest?.id, snapId);
    const second = await reader.openRepository(join(dir, 'repo'), 'a second password');
    assert.ok(second.master.mac.equals(repo.master.mac));
    await assert.rejects(reader.readRepository(join(dir, 'repo'), 'not the password'), /wrong password/);

    // Every blob the library indexed, at the same place.
    await repo.loadIndex();
    const libEntries = [...repo.index.entries()];
    assert.equal(r.index.size, libEntries.length);
    for (const e of libEntries) {
      const locs = r.index.get(e.id)!;
      assert.ok(locs.some((l) => l.pack === e.pack && l.offset === e.offset && l.length === e.length && l.rawLength === e.rawLength && l.compression === e.compression));
    }

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
