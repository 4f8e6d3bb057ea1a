/**
 * Worker threads for CPU-heavy work (decrypting, decompressing, hashing): a pool that sends each request
 * to the worker with the fewest in flight, and the worker-side loop that answers them.
 *
 * Built code runs the worker module's `.js` file. Under tsx (tests, development) Node 20 does not carry the
 * loader into worker threads, so a tiny bootstrap registers it first.
 */
import { availableParallelism } from 'node:os';
import { parentPort, Worker, workerData, type ResourceLimits } from 'node:worker_threads';
import { LifeboatError, type ErrorCode } from './errors.ts';
import { collectWorkerGarbage, workerGarbageGrew } from './heap.ts';

/**
 * V8 young generation of each worker: 6 MiB (semi-spaces of 2 MiB), instead of the default 48 MiB (16 MiB
 * semi-spaces). Worker heaps hold little that lives (keys, a job's few thousand small objects), but with the
 * default they grew to 25 MiB each on the 1 GiB mixed bench corpus and to 56-71 MiB on the 100,000 tiny
 * files restore (job lists of thousands of targets), all of it resident (bench, 2026-11-30). With 6 MiB they
 * stay at ~8-12 MiB; the extra scavenges of a heap this small cost nothing measurable.
 */
const WORKER_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 6 };

/** The worker module `name` next to the module at `base` (pass `import.meta.url`), as .ts or .js. */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}

function spawn(module: URL, workerData: unknown): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { workerData, resourceLimits: WORKER_LIMITS });
  // tsx resolved here, from this module: an eval'd worker resolves bare names from the current folder,
  // which need not be the project's (bin/lifeboat.js runs the sources through tsx from anywhere).
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(module.href)}); })`;
  return new Worker(boot, { eval: true, workerData, resourceLimits: WORKER_LIMITS });
}

/** The workerData of a worker started before its input existed (its input then comes as the first message). */
export const DEFERRED_INPUT = 'lifeboat:deferred-init';

interface Spare {
  worker: Worker;
  onFail: () => void;
}

/** Workers started ahead of need (prestartWorkers), by module, not yet taken by startWorker. */
const spares = new Map<string, Spare[]>();

/**
 * Start `count` workers of `module` now, before the data they need exists, so that their start-up (module
 * loading, ~0.15-0.3 s each from a cold page cache on the project machine) overlaps what the command does
 * first (deriving the key, reading the index) instead of following it. startWorker takes them; one never
 * taken does not keep the process alive, and one that fails before it is taken leaves the spares (a later
 * call or startWorker starts a new one). Returns the workers it started (none when `count` were waiting).
 */
export function prestartWorkers(module: URL, count: number = availableParallelism()): Worker[] {
  const list = spares.get(module.href) ?? [];
  spares.set(module.href, list);
  const started: Worker[] = [];
  while (list.length < count) {
    const spare: Spare = {
      worker: spawn(module, { [DEFERRED_INPUT]: true }),
      onFail: () => {
        const i = list.indexOf(spare);
        if (i >= 0) list.splice(i, 1);
      },
    };
    spare.worker.unref();
    spare.worker.on('error', spare.onFail);
    spare.worker.on('exit', spare.onFail);
    list.push(spare);
    started.push(spare.worker);
  }
  return started;
}

/** A worker of `module` given `workerData` (a structured-cloneable value): a prestarted one if any is left. */
export function startWorker(module: URL, workerData: unknown): Worker {
  const spare = spares.get(module.href)?.shift();
  if (spare) {
    spare.worker.off('error', spare.onFail);
    spare.worker.off('exit', spare.onFail);
    spare.worker.ref();
    spare.worker.postMessage({ [DEFERRED_INPUT]: workerData });
    return spare.worker;
  }
  return spawn(module, workerData);
}

/**
 * Inside a worker: the messages from the main thread, through one listener for the worker's life, kept
 * in arrival order until the worker's handler is set (onParentMessage), so none is lost while the worker
 * still waits for its data.
 */
const inbox: { early: unknown[]; handler: ((m: unknown) => void) | undefined; listening: boolean } = { early: [], handler: undefined, listening: false };

function listen(): void {
  if (inbox.listening) return;
  inbox.listening = true;
  parentPort!.on('message', (m: unknown) => {
    if (inbox.handler) inbox.handler(m);
    else inbox.early.push(m);
  });
}

/** Inside a worker: handle every message from the main thread (those that came early first, in order). */
export function onParentMessage<M>(handler: (m: M) => void): void {
  listen();
  inbox.handler = handler as (m: unknown) => void;
  for (const m of inbox.early.splice(0)) handler(m as M);
}

/** Inside a worker: the data startWorker gave it, whether it was started with it or ahead of need. */
export async function workerInput<T>(): Promise<T> {
  const d = workerData as Record<string, unknown> | null;
  if (typeof d !== 'object' || d === null || d[DEFERRED_INPUT] !== true) return workerData as T;
  listen();
  return new Promise<T>((resolve) => {
    const take = (): boolean => {
      const i = inbox.early.findIndex((m) => typeof m === 'object' && m !== null && DEFERRED_INPUT in m);
      if (i < 0) return false;
      const [m] = inbox.early.splice(i, 1);
      resolve((m as Record<string, unknown>)[DEFERRED_INPUT] as T);
      return true;
    };
    if (take()) return;
    inbox.handler = (m) => {
      inbox.early.push(m);
      if (take()) inbox.handler = undefined;
    };
  });
}

interface Slot {
  worker: Worker;
  /** Requests sent to this worker and not answered yet (how busy it is). */
  pending: Set<number>;
  /** Set once the worker has stopped (crashed, ran out of memory, exited): why. */
  stopped?: LifeboatError;
}

export class WorkerPool<Req, Res> {
  readonly #slots: Slot[] = [];
  readonly #waiting = new Map<number, { resolve: (r: Res) => void; reject: (e: unknown) => void }>();
  #next = 0;

  constructor(module: URL, workerData: unknown, workers: number = availableParallelism()) {
    for (let i = 0; i < workers; i++) {
      const worker = startWorker(module, workerData);
      const slot: Slot = { worker, pending: new Set() };
      worker.on('message', (m: { id: number; res?: Res; error?: string; code?: ErrorCode; hint?: string }) => {
        slot.pending.delete(m.id);
        const w = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        if (m.error === undefined) w?.resolve(m.res as Res);
        // A LifeboatError thrown in the worker keeps its code and hint (a damaged file stays INTEGRITY).
        else if (m.code) w?.reject(new LifeboatError(m.code, m.error, m.hint === undefined ? {} : { hint: m.hint }));
        else w?.reject(new LifeboatError('INTERNAL', `worker failed: ${m.error}`));
      });
      // A worker that stops fails only what it was given; the others go on. Later requests for it fail at
      // once (run picks another), instead of waiting for an answer that never comes.
      const stop = (why: string, cause?: unknown): void => {
        if (slot.stopped) return;
        slot.stopped = new LifeboatError('INTERNAL', `worker stopped: ${why}`, cause === undefined ? {} : { cause });
        for (const id of slot.pending) {
          this.#waiting.get(id)?.reject(slot.stopped);
          this.#waiting.delete(id);
        }
        slot.pending.clear();
      };
      worker.on('error', (err) => stop(err.message, err));
      worker.on('exit', (code) => stop(`exited with code ${code}`));
      this.#slots.push(slot);
    }
  }

  get size(): number {
    return this.#slots.length;
  }

  /** Send `req` to the least busy worker; `transfer` lists buffers to move instead of copy. */
  run(req: Req, transfer: ArrayBuffer[] = []): Promise<Res> {
    const live = this.#slots.filter((s) => !s.stopped);
    const slot = live.length > 0 ? live.reduce((a, b) => (b.pending.size < a.pending.size ? b : a)) : this.#slots[0]!;
    return this.#send(slot, req, transfer);
  }

  /** Send `req` to worker `index` (modulo the pool's size): for callers that keep related work on one worker. */
  runOn(index: number, req: Req, transfer: ArrayBuffer[] = []): Promise<Res> {
    return this.#send(this.#slots[index % this.#slots.length]!, req, transfer);
  }

  /** Send `req` to every worker (e.g. "close your files"). */
  async broadcast(req: Req): Promise<Res[]> {
    return Promise.all(this.#slots.map((s) => this.#send(s, req, [])));
  }

  async close(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #send(slot: Slot, req: Req, transfer: ArrayBuffer[]): Promise<Res> {
    if (slot.stopped) return Promise.reject(slot.stopped);
    const id = ++this.#next;
    slot.pending.add(id);
    return new Promise<Res>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      slot.worker.postMessage({ id, req }, transfer);
    });
  }
}

/**
 * Inside a worker: answer every request with `handle`; `transfer` lists the buffers of an answer to move
 * rather than copy. The worker's garbage is collected (collectWorkerGarbage) once the requests that have
 * arrived are answered, so a job's buffers are freed before the next; while requests keep coming, also as
 * soon as a job leaves WORKER_EXTERNAL_GROWTH of buffers behind (workerGarbageGrew, heap.ts).
 */
export function serveRequests<Req, Res>(handle: (req: Req) => Res, transfer?: (res: Res) => ArrayBuffer[]): void {
  const port = parentPort!;
  let collect = false;
  onParentMessage((m: { id: number; req: Req }) => {
    try {
      const res = handle(m.req);
      port.postMessage({ id: m.id, res }, transfer?.(res) ?? []);
    } catch (err) {
      const known = err instanceof LifeboatError ? { code: err.code, ...(err.hint === undefined ? {} : { hint: err.hint }) } : {};
      port.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err), ...known });
    }
    // The message event still holds this request: a collection now keeps it alive one round more.
    if (workerGarbageGrew()) {
      collectWorkerGarbage();
    } else if (!collect) {
      collect = true;
      setImmediate(() => {
        collect = false;
        collectWorkerGarbage();
      });
    }
  });
}

/** The buffer behind `b`, if it can be transferred whole (it is not a view into something larger). */
export function transferable(b: Uint8Array): ArrayBuffer[] {
  const ab = b.buffer;
  return ab instanceof ArrayBuffer && b.byteOffset === 0 && b.byteLength === ab.byteLength ? [ab] : [];
}
