/** RestorePool: pack jobs for RestoreWork, in worker threads (or inline when `workers` is 0). */
import { prestartWorkers, siblingModule, transferable, WorkerPool } from '../../core/index.ts';
import { RestoreWork, type PackJob, type PackResult } from './restore-work.ts';

type Req = { t: 'pack'; job: PackJob } | { t: 'close' };

/** The worker module: one URL, so that the workers prestarted are the ones taken. */
const RESTORE_WORKER = siblingModule(import.meta.url, 'restore-worker');

/** Start the restore workers ahead of need (see prestartWorkers): a RestorePool made later takes them. */
export function prestartRestoreWorkers(workers?: number): void {
  void prestartWorkers(RESTORE_WORKER, workers);
}

export class RestorePool {
  readonly #pool: WorkerPool<Req, PackResult> | undefined;
  readonly #inline: RestoreWork | undefined;

  constructor(master: { encryption: Uint8Array; mac: Uint8Array }, opts: { workers?: number } = {}) {
    if (opts.workers === 0) this.#inline = new RestoreWork(master);
    else this.#pool = new WorkerPool(RESTORE_WORKER, { encryption: master.encryption, mac: master.mac }, opts.workers);
  }

  /** Workers (1 inline): the restorer runs one lane of jobs per worker (see lanes.ts). */
  get lanes(): number {
    return Math.max(1, this.#pool?.size ?? 1);
  }

  /** Jobs to keep in flight per lane: two keeps a worker busy while its next range is read. */
  readonly perLane = 2;

  /** Shared memory with every worker: `stop()` sets it, and jobs in flight end before their next blob. */
  readonly #stop = new Int32Array(new SharedArrayBuffer(4));

  /** Run a job on the worker of `lane`. */
  run(job: PackJob, lane = 0): Promise<PackResult> {
    if (this.#inline) return Promise.resolve(this.#inline.processPack(job));
    return this.#pool!.runOn(lane, { t: 'pack', job: { ...job, stop: this.#stop } }, transferable(job.bytes));
  }

  /** Jobs in flight stop between blobs (the restore was aborted; what they leave unwritten is not reported). */
  stop(): void {
    Atomics.store(this.#stop, 0, 1);
  }

  /** Close every open file in every worker; afterwards all written data is in the files. */
  async closeFiles(): Promise<void> {
    if (this.#inline) this.#inline.closeAll();
    else await this.#pool!.broadcast({ t: 'close' });
  }

  async close(): Promise<void> {
    await this.#pool?.close();
  }
}
