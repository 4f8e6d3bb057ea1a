/**
 * BlobWriter's pack cutting: a pack ends once it reaches the pack size with its header counted, and every
 * blob reads back. Packs are written out as they fill, and a discarded writer leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlobWriter, readPackHeader } from '../../src/repo/index.ts';
import { newRepo, openRepo, tempDir } from '../helpers/repo.ts';

describe('BlobWriter', () => {
  it('cuts packs at the pack size, header included, and every blob reads back', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    const packSize = 64 * 1024;
    const w = new BlobWriter(repo, { packSize });
    const blobs = new Map<string, Buffer>();
    for (let i = 0; i < 3000; i++) {
      const plain = randomBytes(20 + (i % 50)); // small and incompressible: the header is a large share
      blobs.set(await w.store('data', plain), plain);
    }
    const big = randomBytes(200 * 1024); // one blob larger than a pack
    blobs.set(await w.store('data', big), big);
    await w.flush();

    const again = await openRepo(dir);
    await again.loadIndex();
    const packs = again.index.packIds();
    assert.ok(packs.length > 5, `${packs.length} packs`);
    let full = 0;
    for (const id of packs) {
      const size = statSync(join(dir, 'repo', 'data', id.slice(0, 2), id)).size;
      const header = await readPackHeader(again, id, size);
      const blobsInPack = header.length;
      // Cut at the first blob that brought it to packSize: at most one blob (plus its header entry) beyond.
      const largest = Math.max(...header.map((b) => b.length));
      assert.ok(size < packSize + largest + 48, `pack ${id}: ${size} bytes, ${blobsInPack} blobs`);
      if (size >= packSize) full++;
    }
    assert.ok(full >= packs.length - 2, `${full} of ${packs.length} packs full`);
    for (const [id, plain] of blobs) assert.deepEqual(await again.loadBlob('data', id), plain);
  });

  it('writes packs as they fill; after discard it takes no more blobs and leaves no temp files', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    const w = new BlobWriter(repo, { packSize: 4 << 20 });
    const temps = (): string[] => readdirSync(join(dir, 'repo', 'data')).filter((n) => n.startsWith('.tmp-'));
    for (let i = 0; i < 3; i++) await w.store('data', randomBytes(1 << 20)); // 3 MiB: pieces written, no pack yet
    assert.equal(temps().length, 1, 'the pack being built is on disk, not in memory');
    await w.discard();
    assert.deepEqual(temps(), []);
    // A producer still delivering after the discard (a worker's last message) is refused, and opens nothing.
    await assert.rejects(w.store('data', randomBytes(5 << 20)), { code: 'ABORTED' });
    assert.deepEqual(temps(), []);
    await assert.rejects(w.flush(), { code: 'ABORTED' });
    // Nothing reached the index or the pack folders (the index is loaded first, or the check says nothing).
    const after = await openRepo(dir);
    await after.loadIndex();
    assert.equal(after.index.size, 0);
    const packs: string[] = [];
    for await (const f of after.backend.list('pack')) packs.push(f.name);
    assert.deepEqual(packs, []);
  });
});
