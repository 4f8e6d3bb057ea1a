/**
 * Metadata read-ahead for the backup walk. The archiver's walk runs on the main thread with synchronous
 * readdir and lstat calls; when the kernel has not cached the inodes (the first backup after a reboot, a
 * nightly backup after a day of other work), each call waits for the disk. A worker thread walks the same
 * paths in the same order just ahead of it, so the main thread's calls find the inodes cached.
 *
 * Measured on the 100,000-file bench tree with the page cache dropped (2026-11-30): a backup with nothing
 * changed spends 3.1 s of its main thread in readdir and lstat against 0.9 s with warm caches, and the
 * second core is idle meanwhile. The prefetch only warms caches; every decision is taken on the main
 * thread's own calls, so a prefetch that lags, fails or races with changes costs nothing but time.
 */
import { prestartWorkers, siblingModule, startWorker } from '../../core/index.ts';
import type { Worker } from 'node:worker_threads';

/** The worker module: one URL, so that the worker prestarted is the one taken. */
const PREFETCH_WORKER = siblingModule(import.meta.url, 'prefetch-worker');

/** Boot the read-ahead worker now (see prestartWorkers): MetaPrefetch.start takes it. */
export function prestartPrefetch(): void {
  void prestartWorkers(PREFETCH_WORKER, 1);
}

export class MetaPrefetch {
  readonly #worker: Worker;

  private constructor(worker: Worker) {
    this.#worker = worker;
  }

  /** Start walking `paths` (absolute, where the data is read from) in a worker thread. */
  static start(paths: string[], opts: { excludes?: readonly string[]; oneFileSystem?: boolean | undefined }): MetaPrefetch {
    const worker = startWorker(PREFETCH_WORKER, {
      paths,
      excludes: [...(opts.excludes ?? [])],
      oneFileSystem: opts.oneFileSystem === true,
    });
    worker.unref();
    worker.on('error', () => undefined); // read-ahead only: the walk itself reports every problem
    return new MetaPrefetch(worker);
  }

  /** Stop it (the walk is over, or failed). */
  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}
