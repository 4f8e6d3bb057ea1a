/**
 * PackReaders: the reads of one pack share one open file, a few idle packs stay open and older ones are
 * closed, a pack that could not be opened is tried again on the next read, and close closes everything.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LocalBackend, type Backend, type FileReader, type Handle, type OpOptions } from '../../src/repo/backend/index.ts';
import { PackReaders } from '../../src/repo/index.ts';
import { tempDir } from '../helpers/repo.ts';

/** A LocalBackend that counts the readers it opens and closes. */
function counting(inner: LocalBackend): { backend: Backend; opened: string[]; closed: string[] } {
  const opened: string[] = [];
  const closed: string[] = [];
  const backend = Object.create(inner) as Backend;
  backend.reader = async (h: Handle, opts?: OpOptions): Promise<FileReader> => {
    const r = await inner.reader(h, opts);
    opened.push(h.name);
    return { size: r.size, read: (o, n, x) => r.read(o, n, x), close: () => (closed.push(h.name), r.close()) };
  };
  return { backend, opened, closed };
}

describe('PackReaders', () => {
  it('shares one open pack among its reads, keeps a few idle, and closes the rest', async (t) => {
    const dir = await tempDir(t);
    const local = new LocalBackend(join(dir, 'repo'));
    await local.create();
    const packs = new Map<string, Buffer>();
    for (let i = 0; i < 6; i++) {
      const name = randomBytes(32).toString('hex');
      const data = randomBytes(8192);
      await local.save({ type: 'pack', name }, data);
      packs.set(name, data);
    }
    const { backend, opened, closed } = counting(local);
    const readers = new PackReaders(backend, 2);
    const names = [...packs.keys()];
    // Four reads of the first pack at once, then the rest one after another.
    const first = names[0]!;
    const got = await Promise.all([0, 1, 2, 3].map((k) => readers.read(first, k * 2048, 2048)));
    assert.deepEqual(Buffer.concat(got), packs.get(first));
    for (const n of names.slice(1)) assert.deepEqual(await readers.read(n, 100, 50), packs.get(n)!.subarray(100, 150));
    assert.deepEqual(opened, names, 'each pack opened once');
    assert.deepEqual(closed, names.slice(0, 4), 'all but the last two idle packs closed');
    // An idle pack still open is read without opening it again.
    assert.deepEqual(await readers.read(names[5]!, 0, 10), packs.get(names[5]!)!.subarray(0, 10));
    assert.equal(opened.length, 6);
    await readers.close();
    assert.deepEqual(closed.slice(4).sort(), names.slice(4).sort());
  });

  it('tries a pack that could not be opened again on the next read', async (t) => {
    const dir = await tempDir(t);
    const local = new LocalBackend(join(dir, 'repo'));
    await local.create();
    const readers = new PackReaders(local);
    const name = randomBytes(32).toString('hex');
    await assert.rejects(readers.read(name, 0, 1), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
    const data = randomBytes(100);
    await local.save({ type: 'pack', name }, data);
    assert.deepEqual(await readers.read(name, 0, 100), data);
    await readers.close();
  });
});
