/**
 * Packs open for ranged reads, shared by the concurrent reads of one pack and kept open a little after
 * their last use. A restore reads each pack front to back in 1 MiB ranges, several in flight; opening the
 * pack for each range (Backend.load) cost four round trips to the thread pool per range.
 */
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

  /** `keepIdle`: packs kept open while no read uses them (the next range of a pack usually follows soon). */
  constructor(backend: Backend, keepIdle = 4) {
    this.#backend = backend;
    this.#keepIdle = keepIdle;
  }

  /** `length` bytes of `pack` from `offset` (the guarantees of a ranged Backend.load). */
  async read(pack: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
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
      return await r.read(offset, length, signal ? { signal } : {});
    } finally {
      if (--e.users === 0 && this.#open.get(pack) === e) {
        this.#idle.push(pack);
        while (this.#idle.length > this.#keepIdle) this.#drop(this.#idle.shift()!);
      }
    }
  }

  #drop(pack: string): void {
    const e = this.#open.get(pack);
    this.#open.delete(pack);
    void e?.reader.then(
      (r) => r.close(),
      () => undefined,
    );
  }

  /** Close every pack. Reads still in flight finish first. */
  async close(): Promise<void> {
    const all = [...this.#open.values()];
    this.#open.clear();
    this.#idle.length = 0;
    await Promise.all(all.map((e) => e.reader.then((r) => r.close(), () => undefined)));
  }
}
