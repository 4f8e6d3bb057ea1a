/**
 * How Lifeboat's threads use the V8 heap. Node's defaults suit a server with one big heap; a backup runs
 * one main thread that holds the walk, the index and the trees, plus a worker per core with small heaps,
 * and its peak memory is what users compare (bench: peak RSS beside restic and borg).
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';
import { nativeFs } from './native.ts';

/**
 * Old-generation growth between full collections, in percent of what was live after the last one (every
 * isolate of the process; set before workers start). V8 otherwise picks a factor of up to 4 on a machine
 * with much memory: the main thread of a backup of 100,000 tiny files had ~37 MiB live and let its old
 * generation reach 141-173 MiB before collecting it. At 100 % it peaks near 2 × live, for ~4 more full
 * collections of that heap (each ~75 ms of main-thread marking, mostly concurrent). Measured on the bench
 * machine, 2026-11-30: peak RSS 377 -> 317 MiB, wall time within run-to-run noise; 50 % gave 283 MiB
 * but cost 10-20 % of wall time.
 */
const HEAP_GROWING_PERCENT = 100;

/** Bound the V8 heap's growth for this process (see HEAP_GROWING_PERCENT). Call once, at start. */
export function boundHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}

let gcFn: ((opts?: { type: 'minor' | 'major' }) => void) | undefined;

function gc(type: 'minor' | 'major'): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as typeof gcFn;
  }
  // Node 20's V8 takes only `type: 'minor'`: `{ type: 'major' }` runs a young-generation collection too
  // (--trace-gc shows a Scavenge), so a full collection is asked for with no options.
  if (type === 'minor') gcFn!({ type });
  else gcFn!();
}

/**
 * Inside a worker: a young-generation collection now (~0.2 ms on a worker's small heap). The buffers a job
 * allocates outside the V8 heap (decrypted blobs, pack ranges transferred in, sealed output) are freed only
 * when the JS objects holding them are collected, and V8 collects for external memory only after ~64 MiB
 * more of it per isolate: without this, each worker kept up to a pack's worth of dead buffers, and glibc
 * kept the memory after they were freed (bench, 2026-11-30). Call it between jobs, when the job's objects are
 * dead but still young. No-op on the main thread.
 */
export function collectYoungGarbage(): void {
  if (isMainThread) return;
  gc('minor');
}

/** A worker's heap may grow this much past what was live after its last full collection. */
const WORKER_OLD_GROWTH = 6 * 1024 * 1024;
let workerLive = 0;

/**
 * Buffers outside the V8 heap a worker may gather between collections (workerGarbageGrew). A job that makes
 * few JS objects but large buffers (a restore worker decrypting 1 MiB ranges of big chunks in 64 KiB slices)
 * never fills the young generation, so V8 does not collect, and only ~64 MiB more external memory makes it:
 * restore workers sat at 25-30 MiB of dead slices each. Full restore of the mixed bench corpus, cold, five
 * runs each (2026-12-01): peak RSS 174-184 MiB before, 153-155 MiB with this, same wall time (2.72 against
 * 2.74 s). Collecting after every job gave 144-149 MiB, but jobs with many JS objects (which fill the young
 * generation, so V8 collects anyway) then had their live request copied each time: the 100,000 tiny files
 * restore took about 1 s more CPU (13.1 -> 14.2 s).
 */
const WORKER_EXTERNAL_GROWTH = 4 * 1024 * 1024;
let workerExternal = 0;

/**
 * Inside a worker, between batches of work: collectYoungGarbage, and a full collection once the heap has
 * grown WORKER_OLD_GROWTH past what was live after the last one. With a young generation as small as the
 * workers' (see worker-pool.ts), a batch's objects reach the old generation, where V8 lets ~16 MiB of them
 * pile up per worker before its first full collection: the chunk workers of a backup of 100,000 tiny files
 * sat at 20 MiB of old generation each, ~5 MiB of it live. A full collection of a heap that small takes a
 * few milliseconds (bench machine, 2026-11-30). No-op on the main thread.
 */
export function collectWorkerGarbage(): void {
  if (isMainThread) return;
  gc('minor');
  if (getHeapStatistics().used_heap_size >= workerLive + WORKER_OLD_GROWTH) {
    gc('major');
    workerLive = getHeapStatistics().used_heap_size;
  }
  workerExternal = getHeapStatistics().external_memory;
}

/**
 * Inside a worker: whether its buffers outside the V8 heap grew by WORKER_EXTERNAL_GROWTH since its last
 * collectWorkerGarbage, so that it should collect now rather than once its queue is empty. False on the
 * main thread.
 */
export function workerGarbageGrew(): boolean {
  if (isMainThread) return false;
  const external = getHeapStatistics().external_memory;
  // V8 frees the buffers of a young collection on a background thread, after collectWorkerGarbage has read
  // the figure: the lowest one since is the base, or the threshold would creep up by 4 MiB every time.
  if (external < workerExternal) workerExternal = external;
  return external >= workerExternal + WORKER_EXTERNAL_GROWTH;
}

/**
 * A long-lived process with nothing to do (the daemon between jobs): a full collection, then the memory
 * glibc kept in its arenas after the job's frees goes back to the system. A job's worker threads leave
 * freed arenas behind that RSS would otherwise carry until the next job.
 */
export function releaseIdleMemory(): void {
  gc('major');
  nativeFs().mallocTrim();
}
