/**
 * Packs open for ranged reads, shared by the concurrent reads of one pack and kept open a little after
 * their last use. A restore reads each pack front to back in 1 MiB ranges, several in flight; opening the
 * pack for each range (Backend.load) cost four round trips to the thread pool per range.
 */
import { LifeboatError } from '../core/index.ts';
import type { Backend, FileReader } from './backend/index.ts';

interface Entry {
  reader: Promise<FileReader>;
  users: number;
}

export class PackReaders {
  readonly #backend: Backend;
  readonly #keepIdle: number;
  readonly #open = new Map<string, Entry>();
  /** Open packs no read is using, oldest first. */
  readonly #idle: string[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;

  /** `keepIdle`: packs kept open while no read uses them (the next range of a pack usually follows soon). */
  constructor(backend: Backend, keepIdle = 4) {
    this.#backend = backend;
    this.#keepIdle = keepIdle;
  }

  /**
   * `length` bytes of `pack` from `offset` (the guarantees of a ranged Backend.load); with `into`, read
   * into its start (see FileReader.read).
   */
  read(pack: string, offset: number, length: number, signal?: AbortSignal, into?: Uint8Array): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new LifeboatError('INTERNAL', `read of pack ${pack} after its readers were closed`));
    const p = this.#read(pack, offset, length, signal, into);
    this.#inFlight.add(p);
    const done = (): void => void this.#inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  async #read(pack: string, offset: number, length: number, signal: AbortSignal | undefined, into: Uint8Array | undefined): Promise<Buffer> {
    let e = this.#open.get(pack);
    if (e === undefined) {
      const reader = this.#backend.reader({ type: 'pack', name: pack }, signal ? { signal } : {});
      e = { reader, users: 0 };
      this.#open.set(pack, e);
      reader.catch(() => {
        if (this.#open.get(pack)?.reader === reader) this.#open.delete(pack); // the next read tries again
      });
    } else {
      const i = this.#idle.indexOf(pack);
      if (i >= 0) this.#idle.splice(i, 1);
    }
    e.users++;
    try {
      const r = await e.reader;
      return await r.read(offset, length, { ...(signal ? { signal } : {}), ...(into ? { into } : {}) });
    } finally {
      if (--e.users === 0 && this.#open.get(pack) === e) {
        this.#idle.push(pack);
        while (this.#idle.length > this.#keepIdle) {
          const old = this.#idle.shift()!;
          void closeEntry(this.#open.get(old));
          this.#open.delete(old);
        }
      }
    }
  }

  /** Close every pack, once the reads in flight have finished. Later reads reject. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    const all = [...this.#open.values()];
    this.#open.clear();
    this.#idle.length = 0;
    await Promise.all(all.map(closeEntry));
  }
}

function closeEntry(e: Entry | undefined): Promise<void> {
  return e ? e.reader.then((r) => r.close(), () => undefined) : Promise.resolve();
}
