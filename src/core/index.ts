/** Shared foundations: errors, clock, defaults. Imported by every layer; imports nothing of Lifeboat. */
export {
  LifeboatError,
  IntegrityError,
  NotFoundError,
  isLifeboatError,
  errnoCode,
  abortError,
  throwIfAborted,
  subjectText,
} from './errors.ts';
export type { ErrorCode, ErrorDetails, Subject } from './errors.ts';
export { systemClock, ManualClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { ServiceGroup, stopOnAbort } from './service.ts';
export type { Health, Service } from './service.ts';
export { defaults } from './defaults.ts';
export { currentUsername } from './user.ts';
export { DEFERRED_INPUT, WorkerPool, onParentMessage, prestartWorkers, serveRequests, siblingModule, startWorker, transferable, workerInput } from './worker-pool.ts';
export { killTree, run, stderrTail } from './exec.ts';
export { Fifo } from './fifo.ts';
export { boundHeapGrowth, collectWorkerGarbage, collectYoungGarbage, releaseIdleMemory } from './heap.ts';
export type { RunOptions, RunResult } from './exec.ts';
export { compareStrings } from './order.ts';
export { newScratch, scratchBuffer } from './scratch.ts';
export { RangeBuffers } from './range-buffers.ts';
export type { Scratch } from './scratch.ts';
export { nativeFs } from './native.ts';
export type { NativeFs, NativePath } from './native.ts';
export { decodeName, displayName, encodeName, fsPath, isCanonicalName, isEscaped, readdirNames } from './fsname.ts';
export { mkdirs, mkdirsSync } from './mkdirs.ts';
