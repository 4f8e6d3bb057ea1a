/**
 * FaultBackend: a Backend wrapper for tests that misbehaves on cue. Fault injection only; everything it does
 * not cue goes to the real backend it wraps.
 *
 *     const fault = new FaultBackend(backend);
 *     fault.failNext('save', 'pack');              // the next pack save (or writer commit) rejects; nothing is stored
 *     fault.failNth('load', 'index', 3, myError);  // the 3rd index load from now rejects with myError
 *     fault.diskFullNext('pack');                  // the next pack save rejects as a full disk would
 *     fault.truncateNextLoad('pack', 100);         // the next pack load returns only its first 100 bytes
 *     fault.flipNextLoad('snapshot');              // the next snapshot load has one bit flipped
 *     const hold = fault.holdNext('save', 'lock'); // the next lock save waits...
 *     await hold.reached;                          // ...until it has arrived,
 *     hold.release();                              // ...and is let through
 *
 * Counting starts when a fault is cued: the Nth call of that operation on that type afterwards triggers it,
 * then the fault is spent. Several faults may trigger on one call; they apply in the order hold, fail /
 * disk-full, (inner call), truncate, flip. `calls()` counts operations seen, for retry tests; `pending()`
 * lets a test check that every cued fault actually fired. Holds are how tests "delay" an operation without
 * sleeping: a held operation still honours its `signal`.
 */
import { LifeboatError, abortError, throwIfAborted } from '../../core/index.ts';
import type { Backend, FileInfo, FileReader, FileType, FileWriter, Handle, LoadOptions, OpOptions, SaveOptions } from './backend.ts';
import { diskFullError } from './local.ts';

export type FaultOp = 'save' | 'load' | 'stat' | 'list' | 'remove';

/** A held operation: `reached` resolves once it is waiting; `release()` lets it go on to the inner backend. */
export interface Hold {
  readonly reached: Promise<void>;
  release(): void;
}

type Action =
  | { kind: 'hold'; arrived: () => void; released: Promise<void> }
  | { kind: 'fail'; error: unknown }
  | { kind: 'diskFull' }
  | { kind: 'truncate'; keep: number }
  | { kind: 'flip'; at: number | undefined; mask: number };

interface Fault {
  op: FaultOp;
  type: FileType;
  /** Matching calls still to go before it triggers (1 = the next one). */
  countdown: number;
  action: Action;
}

const order: Record<Action['kind'], number> = { hold: 0, fail: 1, diskFull: 1, truncate: 2, flip: 3 };

export class FaultBackend implements Backend {
  readonly inner: Backend;
  #faults: Fault[] = [];
  #calls = new Map<string, number>();

  constructor(inner: Backend) {
    this.inner = inner;
  }

  get location(): string {
    return this.inner.location;
  }

  /** The next `op` on a file of `type` rejects with `error` (default: a `BACKEND` error) without reaching the inner backend. */
  failNext(op: FaultOp, type: FileType, error?: unknown): this {
    return this.failNth(op, type, 1, error);
  }

  /** The `n`th `op` on `type` from now rejects with `error` without reaching the inner backend. */
  failNth(op: FaultOp, type: FileType, n: number, error?: unknown): this {
    return this.#cue(op, type, n, { kind: 'fail', error });
  }

  /** The next save of `type` rejects with the error a full disk gives (code `IO`, "disk full"); nothing is stored. */
  diskFullNext(type: FileType): this {
    return this.#cue('save', type, 1, { kind: 'diskFull' });
  }

  /** The next load of `type` returns only its first `keep` bytes, as a broken backend might. */
  truncateNextLoad(type: FileType, keep: number): this {
    return this.#cue('load', type, 1, { kind: 'truncate', keep });
  }

  /** The next load of `type` has the byte at `at` (default: the middle one) XORed with `mask` (default: one bit). */
  flipNextLoad(type: FileType, at?: number, mask = 0x01): this {
    return this.#cue('load', type, 1, { kind: 'flip', at, mask });
  }

  /** The next `op` on `type` waits until released (or its signal aborts). */
  holdNext(op: FaultOp, type: FileType): Hold {
    let arrived = (): void => undefined;
    let release = (): void => undefined;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#cue(op, type, 1, { kind: 'hold', arrived, released });
    return { reached, release };
  }

  /** How many times `op` was called on `type` (including calls that faulted). */
  calls(op: FaultOp, type: FileType): number {
    return this.#calls.get(`${op}/${type}`) ?? 0;
  }

  /** Faults cued but not yet triggered. */
  pending(): number {
    return this.#faults.length;
  }

  /** Forgets every cued fault (held operations already waiting stay held until released). */
  clear(): void {
    this.#faults = [];
  }

  #cue(op: FaultOp, type: FileType, n: number, action: Action): this {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`fault: n must be a positive integer, got ${n}`);
    this.#faults.push({ op, type, countdown: n, action });
    return this;
  }

  /** Counts the call, then returns the actions that trigger on it, in the order they apply. */
  #take(op: FaultOp, type: FileType): Action[] {
    const key = `${op}/${type}`;
    this.#calls.set(key, (this.#calls.get(key) ?? 0) + 1);
    const fired: Action[] = [];
    this.#faults = this.#faults.filter((f) => {
      if (f.op !== op || f.type !== type) return true;
      f.countdown -= 1;
      if (f.countdown > 0) return true;
      fired.push(f.action);
      return false;
    });
    return fired.sort((a, b) => order[a.kind] - order[b.kind]);
  }

  /** Applies the actions that come before the inner call: holds, failures. */
  async #before(actions: Action[], op: FaultOp, where: string, signal: AbortSignal | undefined): Promise<void> {
    for (const a of actions) {
      if (a.kind === 'hold') {
        a.arrived();
        await waitOrAbort(a.released, signal);
      } else if (a.kind === 'fail') {
        throw a.error ?? new LifeboatError('BACKEND', `injected fault: ${op} ${where}`, { context: { injected: true } });
      } else if (a.kind === 'diskFull') {
        const cause = Object.assign(new Error('ENOSPC: no space left on device (injected)'), { code: 'ENOSPC' });
        throw diskFullError(where, cause);
      }
    }
  }

  #where(h: Handle): string {
    return `${this.inner.location} ${h.type}/${h.name}`;
  }

  create(opts?: OpOptions): Promise<void> {
    return this.inner.create(opts);
  }

  async save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void> {
    await this.#before(this.#take('save', h.type), 'save', this.#where(h), opts?.signal);
    await this.inner.save(h, data, opts);
  }

  async load(h: Handle, opts?: LoadOptions): Promise<Buffer> {
    const actions = this.#take('load', h.type);
    await this.#before(actions, 'load', this.#where(h), opts?.signal);
    return this.#damage(actions, h, await this.inner.load(h, opts));
  }

  /** Opening goes straight through; each read counts as a `load` of the type, and load faults apply to it. */
  async reader(h: Handle, opts?: OpOptions): Promise<FileReader> {
    const inner = await this.inner.reader(h, opts);
    return {
      size: inner.size,
      read: async (offset, length, o) => {
        const actions = this.#take('load', h.type);
        await this.#before(actions, 'load', this.#where(h), o?.signal);
        return this.#damage(actions, h, await inner.read(offset, length, o));
      },
      close: () => inner.close(),
    };
  }

  #damage(actions: Action[], h: Handle, loaded: Buffer): Buffer {
    let buf = loaded;
    for (const a of actions) {
      if (a.kind === 'truncate') {
        buf = buf.subarray(0, Math.min(a.keep, buf.length));
      } else if (a.kind === 'flip') {
        const at = a.at ?? Math.floor(buf.length / 2);
        if (at < 0 || at >= buf.length) {
          throw new RangeError(`fault: cannot flip byte ${at} of ${this.#where(h)}, which has ${buf.length} bytes`);
        }
        buf = Buffer.from(buf); // never damage a buffer the inner backend might share
        buf[at] = (buf[at] ?? 0) ^ a.mask;
      }
    }
    return buf;
  }

  async stat(h: Handle, opts?: OpOptions): Promise<FileInfo> {
    await this.#before(this.#take('stat', h.type), 'stat', this.#where(h), opts?.signal);
    return this.inner.stat(h, opts);
  }

  async *list(type: FileType, opts?: OpOptions): AsyncGenerator<FileInfo> {
    await this.#before(this.#take('list', type), 'list', `${this.inner.location} ${type}`, opts?.signal);
    yield* this.inner.list(type, opts);
  }

  async remove(h: Handle, opts?: OpOptions): Promise<void> {
    await this.#before(this.#take('remove', h.type), 'remove', this.#where(h), opts?.signal);
    await this.inner.remove(h, opts);
  }

  removeStale(before: number, opts?: OpOptions): Promise<number> {
    return this.inner.removeStale(before, opts);
  }

  /** Writes go straight through; the commit counts as a `save` of `type`, and save faults apply to it. */
  writer(type: Exclude<FileType, 'config'>, opts?: OpOptions): FileWriter {
    const inner = this.inner.writer(type, opts);
    return {
      write: (data) => inner.write(data),
      commit: async (name) => {
        try {
          await this.#before(this.#take('save', type), 'save', this.#where({ type, name }), opts?.signal);
        } catch (err) {
          await inner.discard();
          throw err;
        }
        await inner.commit(name);
      },
      discard: () => inner.discard(),
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function waitOrAbort(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  if (signal === undefined) return p;
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => (onAbort = () => reject(abortError(signal))));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.race([p, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
