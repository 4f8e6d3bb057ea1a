/**
 * The in-memory index: ids held as bytes in a hash table (BlobIndex, IdTable), index files (binary, and
 * JSON as older writers wrote them) decoded into compact arrays and cut into files of bounded size
 * (indexFileGroups); and check, whose
 * workers decode the index files, on a pack that two index files list.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlobIndex, checkRepository, type IndexFileJson, type Repository } from '../../src/repo/index.ts';
import { decodeIndexBytes, encodeIndexFile, indexedPacks, indexFileGroups, indexFileJson, isBinaryIndex, packsOf } from '../../src/repo/blob-index.ts';
import type { PackedBlob } from '../../src/repo/pack.ts';
import { backupFiles } from '../../src/sources/files/index.ts';
import { seededBytes } from '../helpers/tree.ts';
import { newRepo, openRepo, tempDir } from '../helpers/repo.ts';

const id = (s: string): string => createHash('sha256').update(s).digest('hex');

function pack(name: string, n: number, from = 0): { id: string; blobs: PackedBlob[] } {
  return {
    id: id(`pack ${name}`),
    blobs: Array.from({ length: n }, (_, i) => ({
      id: id(`blob ${from + i}`),
      type: i % 7 === 0 ? ('tree' as const) : ('data' as const),
      offset: i * 100,
      length: 100,
      rawLength: 1000 + i,
      compression: i % 2,
    })),
  };
}

/** A repository holding one backup of `files` seeded files of the given sizes, and its one index file. */
async function backedUp(t: Parameters<typeof tempDir>[0], files: number, size: (i: number) => number): Promise<{ dir: string; repo: Repository; only: string }> {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  for (let i = 0; i < files; i++) writeFileSync(join(src, `f${i}`), seededBytes(`f${i}`, size(i)));
  await backupFiles(await newRepo(dir), { paths: [src] });
  const repo = await openRepo(dir);
  const [only] = await repo.listNames('index');
  return { dir, repo, only: only! };
}

describe('blob index', () => {
  it('finds every one of 60,000 blobs by id, keeps the first location of a duplicate, and knows no others', () => {
    const packs = Array.from({ length: 30 }, (_, k) => pack(`p${k}`, 2000, k * 2000));
    const index = new BlobIndex();
    for (const p of packs) index.addPack(p.id, p.blobs);
    // The first 10 blobs again, in another pack: the first location stays.
    const again = { id: id('pack again'), blobs: packs[0]!.blobs.slice(0, 10).map((b) => ({ ...b, offset: b.offset + 5 })) };
    index.addPack(again.id, again.blobs);
    assert.equal(index.size, 60_000);
    for (const p of packs) {
      for (const b of p.blobs) {
        assert.deepEqual(index.get(b.id), { ...b, pack: p.id });
        assert.equal(index.rawLength(b.id), b.rawLength);
      }
    }
    assert.ok(index.hasPack(again.id));
    for (const missing of [id('no such blob'), '', 'ab', 'zz'.repeat(32), `${id('x')}0`, id('x').slice(0, 63)]) {
      assert.equal(index.has(missing), false, missing);
      assert.equal(index.get(missing), undefined);
    }
    const listed = [...index.entries()];
    assert.equal(listed.length, 60_000);
    assert.equal(new Set(listed.map((e) => e.id)).size, 60_000);
    assert.deepEqual(listed[0], { ...packs[0]!.blobs[0]!, pack: packs[0]!.id });
    index.clear();
    assert.equal(index.size, 0);
    assert.equal(index.has(packs[0]!.blobs[0]!.id), false);
    index.addPack(packs[1]!.id, packs[1]!.blobs);
    assert.deepEqual(index.get(packs[1]!.blobs[3]!.id), { ...packs[1]!.blobs[3]!, pack: packs[1]!.id });
  });

  it('an index file decodes to compact arrays that add up to the same index as its packs', () => {
    const packs = [pack('a', 300), pack('b', 1, 300), pack('c', 0), pack('d', 50, 301)];
    const ip = indexedPacks(JSON.parse(JSON.stringify(indexFileJson(packs))) as IndexFileJson, 'f');
    assert.deepEqual(packsOf(ip), packs);
    const a = new BlobIndex();
    const b = new BlobIndex();
    a.addIndexed(ip);
    for (const p of packs) b.addPack(p.id, p.blobs);
    assert.deepEqual([...a.entries()], [...b.entries()]);
    assert.deepEqual(a.packIds(), b.packIds());
  });

  it('an index file in the binary form decodes to the same arrays as its JSON form, and a damaged one is refused', () => {
    const packs = [pack('a', 300), pack('b', 1, 300), pack('c', 0), pack('d', 50, 301)];
    const bytes = encodeIndexFile(packs);
    assert.ok(isBinaryIndex(bytes));
    const ip = decodeIndexBytes(bytes, 'f');
    assert.deepEqual(ip, indexedPacks(indexFileJson(packs), 'f'));
    assert.deepEqual(packsOf(ip), packs);
    assert.deepEqual(packsOf(decodeIndexBytes(encodeIndexFile([]), 'f')), []);
    const damaged = (change: (b: Buffer) => Buffer): Buffer => change(Buffer.from(bytes));
    for (const [what, b] of [
      ['cut short', damaged((b) => b.subarray(0, b.length - 4))],
      ['one byte too many', damaged((b) => Buffer.concat([b, Buffer.of(0)]))],
      ['more blobs declared', damaged((b) => (b.writeUInt32LE(352, 12), b))],
      ['a pack count that does not add up', damaged((b) => (b.writeUInt32LE(299, 16 + 4 * 32), b))],
      ['flags out of range', damaged((b) => (b.writeUInt32LE(0x100, b.length - 4), b))],
      ['no magic', damaged((b) => (b[0] = 0x7b, b))],
    ] as const) {
      assert.throws(() => decodeIndexBytes(b, 'f'), { code: 'INTEGRITY', message: /index file f/ }, what);
    }
    assert.throws(() => encodeIndexFile([{ id: 'not hex', blobs: [] }]), RangeError);
  });

  it('refuses an index file whose blob ids are not 64 lower-case hex digits', () => {
    for (const bad of ['zz'.repeat(32), id('x').slice(2), id('x').toUpperCase(), 42]) {
      const j = indexFileJson([pack('a', 3)]) as unknown as { packs: Array<{ blobs: Array<{ id: unknown }> }> };
      j.packs[0]!.blobs[1]!.id = bad;
      assert.throws(() => indexedPacks(j as unknown as IndexFileJson, 'f'), { code: 'INTEGRITY', message: /index file f has a malformed entry/ });
    }
  });

  it('cuts packs into index files of bounded packs and blobs, a larger pack alone, in order', () => {
    const packs = [pack('a', 10), pack('b', 10), pack('c', 25), pack('d', 5), pack('e', 5), pack('f', 5)];
    const names = (groups: Array<Array<{ id: string }>>): string[][] => groups.map((g) => g.map((p) => packs.findIndex((q) => q.id === p.id).toString()));
    assert.deepEqual(names(indexFileGroups(packs, 100, 20)), [['0', '1'], ['2'], ['3', '4', '5']]);
    assert.deepEqual(names(indexFileGroups(packs, 2, 1000)), [['0', '1'], ['2', '3'], ['4', '5']]);
    assert.deepEqual(indexFileGroups([], 10, 10), []);
  });

  it('check reads a pack that two index files (binary, and JSON as older writers wrote) list once per blob, in its workers and on this thread', async (t) => {
    const { dir, repo, only } = await backedUp(t, 20, (i) => 20_000 + i * 1000);
    // The same entries again under another name, in the JSON form: as after an interrupted prune.
    await repo.saveJson('index', indexFileJson(packsOf(await repo.loadIndexFile(only))));
    for (const workers of [undefined, 0]) {
      const res = await checkRepository(await openRepo(dir), { readData: true, ...(workers === undefined ? {} : { workers }) });
      assert.ok(res.ok, JSON.stringify(res.problems));
      assert.equal(res.packsRead, res.packs);
    }
  });

  it('check names the blobs an index places where the pack header does not, in its workers and on this thread', async (t) => {
    const { dir, repo, only } = await backedUp(t, 6, (i) => 5_000 + i * 100);
    const packs = packsOf(await repo.loadIndexFile(only));
    const blobs = packs.find((p) => p.blobs.length >= 2)!.blobs;
    // Two entries swap ids, each keeping the other's place: as a faulty writer's index would.
    const [a, b] = [blobs[0]!.id, blobs[1]!.id];
    [blobs[0]!.id, blobs[1]!.id] = [b, a];
    await repo.saveIndexFile(packs);
    await repo.backend.remove({ type: 'index', name: only });
    for (const workers of [undefined, 0]) {
      const res = await checkRepository(await openRepo(dir), { readData: true, ...(workers === undefined ? {} : { workers }) });
      const p = res.problems.find((x) => x.kind === 'pack');
      assert.ok(p, JSON.stringify(res.problems));
      for (const id of [a, b]) assert.match(p.message, new RegExp(`blob ${id} is in the index but not at that place in the pack header`));
      assert.match(p.message, /2 of \d+ blobs are damaged/);
    }
  });
});
