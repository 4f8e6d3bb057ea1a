/**
 * The Backend conformance suite: the contract written in src/repo/backend/backend.ts, as tests. Every
 * backend (local folder, S3, ...) runs this same suite:
 *
 *     backendConformance('LocalBackend', async () => ({ backend, cleanup }));
 *
 * `make` returns a backend for a fresh, empty location on which `create()` has NOT been called yet, and a
 * `cleanup` that removes the location. Each test makes its own, and cleans up even when it fails.
 *
 * Ranges past the end of a file must reject with code `CORRUPT` and "truncated" in the message, so that the
 * layers above can tell a damaged file from an unreachable backend.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileTypes } from '../../../src/repo/backend/index.ts';
import type { Backend, FileInfo, FileType, Handle } from '../../../src/repo/backend/index.ts';
import { isLifeboatError } from '../../../src/core/index.ts';
import type { ErrorCode } from '../../../src/core/index.ts';

export interface BackendFixture {
  backend: Backend;
  cleanup: () => Promise<void>;
}

const MiB = 1024 * 1024;

function handle(type: FileType): Handle {
  return { type, name: type === 'config' ? 'config' : randomBytes(32).toString('hex') };
}

async function listAll(b: Backend, type: FileType): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for await (const info of b.list(type)) out.push(info);
  return out;
}

function byName(a: FileInfo, b: FileInfo): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Asserts that `p` rejects with a `LifeboatError` of `code` whose message contains every one of `words`. */
async function rejectsWith(p: Promise<unknown>, code: ErrorCode, ...words: (string | RegExp)[]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isLifeboatError(err), `expected a LifeboatError, got ${String(err)}`);
    assert.equal(err.code, code, `wrong code for: ${err.message}`);
    for (const w of words) {
      if (typeof w === 'string') assert.ok(err.message.includes(w), `message should name ${w}: ${err.message}`);
      else assert.match(err.message, w);
    }
    return true;
  });
}

export interface BackendTraits {
  /**
   * A writer stages its pieces where the backend stores files (a temp file), so a crash leaves something for
   * removeStale. false: pieces are kept by the client until commit (a remote backend): nothing is left.
   */
  stagedWrites?: boolean;
}

export function backendConformance(name: string, make: () => Promise<BackendFixture>, traits: BackendTraits = {}): void {
  const staged = traits.stagedWrites !== false;
  /** Runs `fn` on a fresh backend (created unless told otherwise), always closing and cleaning up. */
  async function withBackend(fn: (b: Backend) => Promise<void>, create = true): Promise<void> {
    const { backend, cleanup } = await make();
    try {
      if (create) await backend.create();
      await fn(backend);
    } finally {
      try {
        await backend.close();
      } finally {
        await cleanup();
      }
    }
  }

  void describe(`Backend conformance: ${name}`, () => {
    void it('saves, loads, stats and lists every file type', () =>
      withBackend(async (b) => {
        for (const [i, type] of fileTypes.entries()) {
          const h = handle(type);
          const data = randomBytes(1000 + i);
          const original = Buffer.from(data);
          await b.save(h, data);
          data.fill(0); // the backend must not keep the caller's buffer
          const loaded = await b.load(h);
          assert.ok(Buffer.isBuffer(loaded), 'load returns a Buffer');
          assert.deepEqual(loaded, original, `${type} round trip`);
          assert.deepEqual(await b.stat(h), { name: h.name, size: original.length });
          assert.deepEqual(await listAll(b, type), [{ name: h.name, size: original.length }]);
        }
      }));

    void it('round-trips an empty file', () =>
      withBackend(async (b) => {
        const h = handle('snapshot');
        await b.save(h, new Uint8Array(0));
        assert.equal((await b.load(h)).length, 0);
        assert.deepEqual(await b.stat(h), { name: h.name, size: 0 });
        assert.deepEqual(await listAll(b, 'snapshot'), [{ name: h.name, size: 0 }]);
        assert.equal((await b.load(h, { offset: 0, length: 0 })).length, 0);
      }));

    void it('loads exactly the requested range', () =>
      withBackend(async (b) => {
        const h = handle('pack');
        const data = randomBytes(4096);
        await b.save(h, data);
        const cases: { offset?: number; length?: number; want: Buffer }[] = [
          { offset: 0, length: 10, want: data.subarray(0, 10) },
          { offset: 100, length: 1000, want: data.subarray(100, 1100) },
          { offset: 4086, length: 10, want: data.subarray(4086) },
          { offset: 4000, want: data.subarray(4000) },
          { length: 7, want: data.subarray(0, 7) },
          { offset: 4096, length: 0, want: Buffer.alloc(0) },
          { offset: 4096, want: Buffer.alloc(0) },
          { offset: 0, length: 4096, want: data },
        ];
        for (const c of cases) {
          const { want, ...range } = c;
          assert.deepEqual(await b.load(h, range), want, JSON.stringify(range));
        }
      }));

    void it('rejects a range past the end as truncated, naming the file', () =>
      withBackend(async (b) => {
        const h = handle('pack');
        await b.save(h, randomBytes(4096));
        for (const range of [
          { offset: 4000, length: 200 },
          { offset: 0, length: 4097 },
          { offset: 4097, length: 0 },
          { offset: 5000 },
          { offset: 1 << 30, length: 1 << 30 },
        ]) {
          await rejectsWith(b.load(h, range), 'CORRUPT', /truncated/, h.name);
        }
      }));

    void it('reads ranges through one reader, concurrently, as loads would; refuses past the end, a missing file, and after close', () =>
      withBackend(async (b) => {
        const h = handle('pack');
        const data = randomBytes(64 * 1024);
        await b.save(h, data);
        const r = await b.reader(h);
        assert.equal(r.size, data.length);
        const ranges = [
          [0, 10],
          [100, 1000],
          [65536 - 10, 10],
          [65536, 0],
          [0, 65536],
        ] as const;
        const got = await Promise.all(ranges.map(([o, n]) => r.read(o, n)));
        ranges.forEach(([o, n], i) => assert.deepEqual(got[i], data.subarray(o, o + n), `${o}+${n}`));
        await rejectsWith(r.read(65000, 1000), 'CORRUPT', /truncated/, h.name);
        // Into a caller's buffer: a view of its start, the rest untouched.
        const into = Buffer.alloc(2000, 0xee);
        const view = await r.read(300, 1000, { into });
        assert.equal(view.buffer, into.buffer);
        assert.equal(view.byteOffset, into.byteOffset);
        assert.deepEqual(view, data.subarray(300, 1300));
        assert.equal(into[1000], 0xee);
        await assert.rejects(r.read(0, 100, { into: Buffer.alloc(99) }));
        await r.close();
        await r.close(); // a second close does nothing
        await assert.rejects(r.read(0, 1));
        await rejectsWith(b.reader(handle('pack')), 'NOT_FOUND');
        // The file as it was when opened: a reader opened before a remove still reads it.
        const kept = await b.reader(h);
        await b.remove(h);
        assert.deepEqual(await kept.read(5, 10), data.subarray(5, 15));
        const ac = new AbortController();
        ac.abort();
        await rejectsWith(kept.read(0, 10, { signal: ac.signal }), 'ABORTED');
        await kept.close();
      }));

    void it('rejects load, stat and remove of a missing file with NOT_FOUND, naming it', () =>
      withBackend(async (b) => {
        for (const type of fileTypes) {
          const h = handle(type);
          await rejectsWith(b.load(h), 'NOT_FOUND', h.name);
          await rejectsWith(b.load(h, { offset: 0, length: 1 }), 'NOT_FOUND', h.name);
          await rejectsWith(b.stat(h), 'NOT_FOUND', h.name);
          await rejectsWith(b.remove(h), 'NOT_FOUND', h.name);
        }
      }));

    void it('lists a fresh repository as empty', () =>
      withBackend(async (b) => {
        for (const type of fileTypes) assert.deepEqual(await listAll(b, type), [], type);
      }));

    void it('lists every file once, with its size, and only files of the type', () =>
      withBackend(async (b) => {
        const want = new Map<FileType, FileInfo[]>();
        for (const [type, count] of [
          ['snapshot', 40],
          ['pack', 300], // enough to land in many data/xx folders
          ['index', 5],
        ] as const) {
          const files = await Promise.all(
            Array.from({ length: count }, async (_, i) => {
              const h = handle(type);
              await b.save(h, randomBytes(i % 50));
              return { name: h.name, size: i % 50 };
            }),
          );
          want.set(type, files.sort(byName));
        }
        for (const type of fileTypes) {
          assert.deepEqual((await listAll(b, type)).sort(byName), want.get(type) ?? [], type);
        }
      }));

    void it('lists only complete files while saves are in flight, and every file saved before', () =>
      withBackend(async (b) => {
        // Writers keep saving packs until the lister has made its rounds, so every round overlaps saves.
        const rounds = 10;
        const blob = randomBytes(5 * MiB); // bigger than one write, for backends that write in pieces
        const sizes = new Map<string, number>(); // every save started: name -> size
        const saved = new Set<string>(); // every save that has resolved
        let stop = false;
        let started = 0;
        const writer = async (): Promise<void> => {
          while (!stop) {
            const h = handle('pack');
            const size = 1 + ((started++ * 1_299_709) % blob.length);
            sizes.set(h.name, size);
            await b.save(h, blob.subarray(0, size));
            saved.add(h.name);
          }
        };
        const writers = Promise.all(Array.from({ length: 2 }, writer));
        try {
          for (let round = 0; round < rounds; round++) {
            const before = new Set(saved);
            const seen = new Set<string>();
            for await (const info of b.list('pack')) {
              assert.equal(sizes.get(info.name), info.size, `listed ${info.name} with ${info.size} bytes: not a complete file`);
              assert.ok(!seen.has(info.name), `listed ${info.name} twice`);
              seen.add(info.name);
            }
            for (const name of before) assert.ok(seen.has(name), `${name} was saved before the list began but not listed`);
          }
        } finally {
          stop = true;
          await writers;
        }
        const listed = await listAll(b, 'pack');
        assert.equal(listed.length, sizes.size);
        for (const info of listed) assert.equal(sizes.get(info.name), info.size);
      }));

    void it('replaces a file saved again under the same name', () =>
      withBackend(async (b) => {
        const h = handle('lock');
        await b.save(h, randomBytes(100));
        const second = randomBytes(50);
        await b.save(h, second);
        assert.deepEqual(await b.load(h), second);
        assert.deepEqual(await b.stat(h), { name: h.name, size: 50 });
        assert.deepEqual(await listAll(b, 'lock'), [{ name: h.name, size: 50 }]);
      }));

    void it('saves a file that need not be durable (a reader\'s lock) as whole and as replaceable as any other', () =>
      withBackend(async (b) => {
        const h = handle('lock');
        const first = randomBytes(100);
        await b.save(h, first, { durable: false });
        assert.deepEqual(await b.load(h), first);
        const second = randomBytes(60);
        await b.save(h, second, { durable: false });
        assert.deepEqual(await b.load(h), second);
        assert.deepEqual(await listAll(b, 'lock'), [{ name: h.name, size: 60 }]);
      }));

    void it('leaves one whole version when the same name is saved concurrently', () =>
      withBackend(async (b) => {
        const h = handle('lock');
        const versions = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i * 4099));
        await Promise.all(versions.map((v) => b.save(h, v)));
        const loaded = await b.load(h);
        assert.ok(
          versions.some((v) => v.equals(loaded)),
          `loaded ${loaded.length} bytes that match none of the saved versions`,
        );
        assert.deepEqual(await listAll(b, 'lock'), [{ name: h.name, size: loaded.length }]);
      }));

    void it('stores every file of many concurrent saves', () =>
      withBackend(async (b) => {
        const files = Array.from({ length: 200 }, (_, i) => ({ h: handle('pack'), data: randomBytes((i * 7919) % (300 * 1024)) }));
        await Promise.all(files.map((f) => b.save(f.h, f.data)));
        await Promise.all(
          files.map(async (f) => {
            assert.deepEqual(await b.load(f.h), f.data);
            assert.equal((await b.stat(f.h)).size, f.data.length);
          }),
        );
        assert.equal((await listAll(b, 'pack')).length, files.length);
      }));

    void it('removes a file from load, stat and list', () =>
      withBackend(async (b) => {
        const keep = handle('snapshot');
        const gone = handle('snapshot');
        await b.save(keep, randomBytes(10));
        await b.save(gone, randomBytes(10));
        await b.remove(gone);
        await rejectsWith(b.load(gone), 'NOT_FOUND', gone.name);
        await rejectsWith(b.stat(gone), 'NOT_FOUND', gone.name);
        await rejectsWith(b.remove(gone), 'NOT_FOUND', gone.name);
        assert.deepEqual(await listAll(b, 'snapshot'), [{ name: keep.name, size: 10 }]);
      }));

    void it('rejects every method with ABORTED when the signal is already aborted, changing nothing', () =>
      withBackend(async (b) => {
        const existing = handle('snapshot');
        const data = randomBytes(100);
        await b.save(existing, data);
        const ac = new AbortController();
        ac.abort();
        const signal = ac.signal;
        const fresh = handle('snapshot');
        await rejectsWith(b.save(fresh, randomBytes(100), { signal }), 'ABORTED');
        await rejectsWith(b.load(existing, { signal }), 'ABORTED');
        await rejectsWith(b.stat(existing, { signal }), 'ABORTED');
        await rejectsWith(b.remove(existing, { signal }), 'ABORTED');
        await rejectsWith(
          (async () => {
            for await (const _ of b.list('snapshot', { signal })) {
              // draining
            }
          })(),
          'ABORTED',
        );
        await rejectsWith(b.stat(fresh), 'NOT_FOUND');
        assert.deepEqual(await b.load(existing), data, 'aborted remove must not remove');
        assert.deepEqual(await listAll(b, 'snapshot'), [{ name: existing.name, size: 100 }]);
      }));

    void it('leaves nothing, or the whole file, when a save is aborted in flight', () =>
      withBackend(async (b) => {
        const h = handle('pack');
        const data = randomBytes(8 * MiB);
        const ac = new AbortController();
        const saving = b.save(h, data, { signal: ac.signal });
        ac.abort();
        const outcome = await saving.then(
          () => 'saved' as const,
          (err: unknown) => err,
        );
        if (outcome === 'saved') {
          // Aborted too late to stop it: then the file is whole.
          assert.deepEqual(await b.load(h), data);
        } else {
          assert.ok(isLifeboatError(outcome, 'ABORTED'), `expected ABORTED, got ${String(outcome)}`);
          await rejectsWith(b.stat(h), 'NOT_FOUND');
          assert.deepEqual(await listAll(b, 'pack'), []);
        }
      }));

    void it('writes a file in pieces, in call order, visible only once committed', () =>
      withBackend(async (b) => {
        const h = handle('pack');
        const pieces = [randomBytes(1000), randomBytes(3 * MiB), randomBytes(1), new Uint8Array(0), randomBytes(5000)];
        const w = b.writer('pack');
        await Promise.all(pieces.map((p) => w.write(p))); // in flight together
        assert.deepEqual(await listAll(b, 'pack'), [], 'nothing is listed before the commit');
        await rejectsWith(b.stat(h), 'NOT_FOUND');
        await w.commit(h.name);
        const whole = Buffer.concat(pieces);
        assert.ok((await b.load(h)).equals(whole), 'the pieces, in order');
        assert.deepEqual(await listAll(b, 'pack'), [{ name: h.name, size: whole.length }]);
        await w.discard(); // after a commit: nothing happens
        assert.ok((await b.load(h)).equals(whole), 'a discard after the commit keeps the file');
        // A writer that wrote nothing commits an empty file.
        const empty = handle('snapshot');
        await b.writer('snapshot').commit(empty.name);
        assert.deepEqual(await b.stat(empty), { name: empty.name, size: 0 });
      }));

    void it('leaves nothing when a writer is discarded, aborted, or given an invalid name', () =>
      withBackend(async (b) => {
        const discarded = b.writer('pack');
        await discarded.write(randomBytes(100_000));
        await discarded.discard();
        await discarded.discard(); // twice is fine
        await assert.rejects(discarded.write(randomBytes(10)), 'a discarded writer takes no more');
        await assert.rejects(discarded.commit(handle('pack').name));

        const ac = new AbortController();
        const aborted = b.writer('pack', { signal: ac.signal });
        await aborted.write(randomBytes(100_000));
        ac.abort();
        await rejectsWith(aborted.write(randomBytes(10)), 'ABORTED');
        await assert.rejects(aborted.commit(handle('pack').name));

        const ac2 = new AbortController();
        const late = b.writer('pack', { signal: ac2.signal });
        await late.write(randomBytes(100_000));
        ac2.abort();
        await rejectsWith(late.commit(handle('pack').name), 'ABORTED');

        const invalid = b.writer('pack');
        await invalid.write(randomBytes(100));
        await rejectsWith(invalid.commit('../../escape'), 'BACKEND');

        assert.deepEqual(await listAll(b, 'pack'), []);
      }));

    void it('removes what a writer cut short left behind, only when old enough, and never a complete file', () =>
      withBackend(async (b) => {
        const kept = handle('pack');
        await b.save(kept, randomBytes(100));
        const crashed = b.writer('pack'); // written to, then never committed nor discarded: a crash
        await crashed.write(randomBytes(100_000));
        assert.equal(await b.removeStale(0), 0, 'nothing is older than the epoch');
        assert.equal(await b.removeStale(Date.now() + 60_000), staged ? 1 : 0);
        assert.equal(await b.removeStale(Date.now() + 60_000), 0);
        assert.deepEqual(await listAll(b, 'pack'), [{ name: kept.name, size: 100 }]);
      }));

    void it('refuses to create where a config exists, and keeps it', () =>
      withBackend(async (b) => {
        const config = handle('config');
        const data = randomBytes(300);
        await b.save(config, data);
        await rejectsWith(b.create(), 'REPO_EXISTS');
        assert.deepEqual(await b.load(config), data);
      }));

    void it('round-trips a 20 MiB file, whole and in ranges', () =>
      withBackend(async (b) => {
        const h = handle('pack');
        const data = randomBytes(20 * MiB);
        await b.save(h, data);
        assert.equal((await b.stat(h)).size, data.length);
        assert.ok((await b.load(h)).equals(data), 'whole file');
        const mid = await b.load(h, { offset: 10 * MiB - 3, length: 5 * MiB });
        assert.ok(mid.equals(data.subarray(10 * MiB - 3, 15 * MiB - 3)), 'range in the middle');
        const tail = await b.load(h, { offset: 20 * MiB - 1 });
        assert.ok(tail.equals(data.subarray(20 * MiB - 1)), 'last byte');
      }));
  });
}
