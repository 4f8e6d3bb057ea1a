/**
 * RestorePool: runs pack jobs on RestoreWork in worker threads (or inline when `workers` is 0).
 * A job goes to the worker with the fewest jobs in flight; the pack's bytes are transferred, not copied.
 */
import type { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { LifeboatError } from '../../core/index.ts';
import { RestoreWork, type PackJob, type PackResult } from './restore-work.ts';
import { startWorker } from './worker-thread.ts';

interface Slot {
  worker: Worker;
  inFlight: number;
}

export class RestorePool {
  readonly #slots: Slot[] = [];
  readonly #inline: RestoreWork | undefined;
  readonly #waiting = new Map<number, { resolve: (r: PackResult) => void; reject: (e: unknown) => void }>();
  #next = 0;

  constructor(master: { encryption: Uint8Array; mac: Uint8Array }, opts: { workers?: number } = {}) {
    const n = opts.workers ?? availableParallelism();
    if (n === 0) {
      this.#inline = new RestoreWork(master);
      return;
    }
    for (let i = 0; i < n; i++) {
      const worker = startWorker('restore-worker', { encryption: master.encryption, mac: master.mac });
      const slot: Slot = { worker, inFlight: 0 };
      worker.on('message', (m: { t: 'done' | 'fail'; id: number; result?: PackResult; message?: string }) => {
        slot.inFlight--;
        const w = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        if (m.t === 'done') w?.resolve(m.result!);
        else w?.reject(new LifeboatError('INTERNAL', `restore worker failed: ${m.message}`));
      });
      worker.on('error', (err) => this.#failAll(err));
      this.#slots.push(slot);
    }
  }

  /** Workers × this many jobs keeps every worker busy while the next packs are read. */
  get parallelism(): number {
    return Math.max(1, this.#slots.length) * 2;
  }

  run(job: PackJob): Promise<PackResult> {
    if (this.#inline) return Promise.resolve(this.#inline.processPack(job));
    const slot = this.#slots.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    return this.#send(slot, { t: 'pack', job }, transferable(job.bytes));
  }

  /** Close every open file in every worker; afterwards all written data is in the files. */
  async closeFiles(): Promise<void> {
    if (this.#inline) {
      this.#inline.closeAll();
      return;
    }
    await Promise.all(this.#slots.map((s) => this.#send(s, { t: 'close' }, [])));
  }

  async close(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #send(slot: Slot, msg: { t: 'pack' | 'close'; job?: PackJob }, transfer: ArrayBuffer[]): Promise<PackResult> {
    const id = ++this.#next;
    slot.inFlight++;
    return new Promise<PackResult>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      slot.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  #failAll(err: unknown): void {
    for (const w of this.#waiting.values()) w.reject(err);
    this.#waiting.clear();
  }
}

function transferable(b: Uint8Array): ArrayBuffer[] {
  const ab = b.buffer;
  return ab instanceof ArrayBuffer && b.byteOffset === 0 && b.byteLength === ab.byteLength ? [ab] : [];
}
