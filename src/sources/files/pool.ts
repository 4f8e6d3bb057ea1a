/**
 * ChunkPool: feeds file jobs to ChunkWork running in worker threads (or inline when `workers` is 0),
 * answers their dedup questions from the BlobWriter, and hands their sealed blobs to it.
 *
 * Small files are batched (up to `batchFiles` files or `batchBytes` bytes a message) because a message
 * round trip costs more than reading a small file. Backpressure: a worker waits for each `blobs` message to
 * be accepted by the writer, and the writer waits for pack uploads, so memory stays bounded however fast
 * the disks are.
 */
import type { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { Fifo, LifeboatError, siblingModule, startWorker, transferable } from '../../core/index.ts';
import type { BlobWriter } from '../../repo/index.ts';
import { ChunkWork, type FileJob, type FileResult, type SealedBlob, type WorkEnv, type WorkKeys } from './chunk-work.ts';

/** Average file size below which a batch counts as small files (see the extra worker). */
const SMALL_FILE = 8 * 1024;

interface Pending {
  job: FileJob;
  resolve: (r: FileResult) => void;
  reject: (e: unknown) => void;
}

export interface PoolOptions {
  /** Worker threads; 0 runs inline. Default: one per core. */
  workers?: number;
  batchFiles?: number;
  batchBytes?: number;
}

interface Slot {
  worker?: Worker;
  busy: boolean;
  batches: Map<number, Pending[]>;
}

export class ChunkPool {
  readonly #writer: BlobWriter;
  readonly #slots: Slot[] = [];
  readonly #queue = new Fifo<Pending>();
  readonly #inline: ChunkWork | undefined;
  readonly #batchFiles: number;
  readonly #batchBytes: number;
  #bid = 0;
  #failed: unknown;
  #inlineBusy = false;
  /** Called after each blob is accepted by the writer (progress). */
  onBlob: ((rawLength: number, stored: boolean) => void) | undefined;

  constructor(writer: BlobWriter, keys: WorkKeys, opts: PoolOptions = {}) {
    this.#writer = writer;
    this.#batchFiles = opts.batchFiles ?? 256;
    this.#batchBytes = opts.batchBytes ?? 16 * 1024 * 1024;
    const n = opts.workers ?? availableParallelism();
    if (n === 0) {
      this.#inline = new ChunkWork(keys);
      return;
    }
    // One worker more than cores, used only while the files are small: reading a small file that is not
    // cached blocks its worker in the kernel, and the extra one keeps both cores busy meanwhile (100,000
    // tiny files, first backup, page cache dropped: 20.0 -> 18.0 s). With large files the workers are
    // CPU-bound and it only cost memory and contention (1 GiB mixed tree, whose source files average
    // 14 KiB: +0.25 s and +50 MiB with a 64 KiB threshold), hence 8 KiB.
    this.#cores = n;
    const extra = opts.workers === undefined ? 1 : 0;
    // Workers start with their first batch: a backup where nothing changed reads no file and so pays
    // for no worker (two module loads, ~0.1 s of CPU each on the bench machine, 2026-11-30).
    this.#keys = keys;
    for (let i = 0; i < n + extra; i++) this.#slots.push({ busy: false, batches: new Map() });
  }

  #cores = 0;
  /** The last batch taken was of small files (see the constructor). */
  #smallFiles = false;

  readonly #keys: WorkKeys | undefined;

  #worker(slot: Slot): Worker {
    if (slot.worker) return slot.worker;
    const worker = startWorker(siblingModule(import.meta.url, 'chunk-worker'), this.#keys);
    worker.on('message', (m: WorkerMsg) => this.#onMessage(slot, m));
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => {
      if (code !== 0) this.#fail(new LifeboatError('INTERNAL', `chunk worker exited with code ${code}`));
    });
    slot.worker = worker;
    return worker;
  }

  get queued(): number {
    return this.#queue.length;
  }

  readonly #roomWaiters: Array<{ n: number; resolve: () => void }> = [];

  /** Resolves when fewer than `n` jobs are queued (the walk uses it to stay a bounded distance ahead). */
  async waitForRoom(n: number): Promise<void> {
    if (this.#queue.length < n || this.#failed !== undefined) return;
    await new Promise<void>((resolve) => this.#roomWaiters.push({ n, resolve }));
  }

  #wakeRoom(): void {
    for (let i = this.#roomWaiters.length - 1; i >= 0; i--) {
      const w = this.#roomWaiters[i]!;
      if (this.#queue.length < w.n || this.#failed !== undefined) {
        this.#roomWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  submit(job: FileJob): Promise<FileResult> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    return new Promise<FileResult>((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#queuedBytes += job.length ?? job.size;
      // A full batch goes out at once. The walk runs many folders per turn of the event loop (promise
      // continuations only), so waiting for the next turn kept the workers idle until a whole cold walk of
      // the bench's mixed tree was over: the changed database file queued at 0.8 s was read from 1.8 s on.
      if (!this.#inline && (this.#queue.length >= this.#batchFiles || this.#queuedBytes >= this.#batchBytes)) this.#dispatch();
      else this.#pump();
    });
  }

  #queuedBytes = 0;

  #take(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.#queue.length && batch.length < this.#batchFiles && (batch.length === 0 || bytes + this.#queue.peek()!.job.size <= this.#batchBytes)) {
      const p = this.#queue.shift()!;
      bytes += p.job.size;
      this.#queuedBytes -= p.job.length ?? p.job.size;
      batch.push(p);
    }
    this.#smallFiles = batch.length >= 32 && bytes < batch.length * SMALL_FILE;
    this.#wakeRoom();
    return batch;
  }

  /** Give every idle worker a batch. */
  #dispatch(): void {
    for (const [i, slot] of this.#slots.entries()) {
      if (slot.busy || this.#queue.length === 0) continue;
      if (i >= this.#cores && !this.#smallFiles) continue;
      const batch = this.#take();
      const bid = ++this.#bid;
      slot.busy = true;
      slot.batches.set(bid, batch);
      this.#worker(slot).postMessage({ t: 'batch', bid, jobs: batch.map((p) => p.job) });
    }
  }

  #pumpScheduled = false;

  #pump(): void {
    // Defer to the next turn of the event loop so the walk's burst of submits (it runs several folders
    // per turn) forms full batches: fewer, larger messages.
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      if (this.#inline) void this.#pumpInline();
      else this.#dispatch();
    });
  }

  async #pumpInline(): Promise<void> {
    if (this.#inlineBusy) return;
    this.#inlineBusy = true;
    try {
      while (this.#queue.length) {
        const batch = this.#take();
        const env: WorkEnv = {
          ask: async (ids) => ids.map((id) => this.#writer.reserve(id)),
          emit: async (buf, blobs) => {
            await this.#accept(buf, blobs);
            return buf;
          },
        };
        try {
          const results = await this.#inline!.processBatch(batch.map((p) => p.job), env);
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (err) {
          this.#fail(err);
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.#inlineBusy = false;
    }
  }

  /** The writer copies each blob into its pack at once, so `buf` is free again when this resolves. */
  async #accept(buf: Buffer, blobs: SealedBlob[]): Promise<void> {
    for (const b of blobs) {
      await this.#writer.add('data', b.id, buf.subarray(b.offset, b.offset + b.length), b.rawLength, b.compression);
      this.onBlob?.(b.rawLength, true);
    }
  }

  #onMessage(slot: Slot, m: WorkerMsg): void {
    switch (m.t) {
      case 'ask':
        slot.worker!.postMessage({ t: 'need', seq: m.seq, need: m.ids.map((id) => this.#writer.reserve(id)) });
        return;
      case 'blobs': {
        // The buffer goes back to the worker with the answer, to be filled again (see EMIT_BYTES).
        const buf = Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength);
        this.#accept(buf, m.blobs).then(
          () => slot.worker!.postMessage({ t: 'ack', seq: m.seq, buf: m.buf }, transferable(m.buf)),
          (err: unknown) => this.#fail(err),
        );
        return;
      }
      case 'done': {
        const batch = slot.batches.get(m.bid);
        slot.batches.delete(m.bid);
        slot.busy = false;
        batch?.forEach((p, i) => p.resolve(m.results[i]!));
        this.#pump();
        return;
      }
      case 'fail': {
        const batch = slot.batches.get(m.bid);
        slot.batches.delete(m.bid);
        this.#fail(new LifeboatError('INTERNAL', `chunk worker failed: ${m.message}`));
        batch?.forEach((p) => p.reject(this.#failed));
        return;
      }
    }
  }

  #fail(err: unknown): void {
    if (this.#failed !== undefined) return;
    this.#failed = err;
    for (const p of this.#queue.drain()) p.reject(err);
    this.#queuedBytes = 0;
    this.#wakeRoom();
    for (const slot of this.#slots) {
      for (const batch of slot.batches.values()) for (const p of batch) p.reject(err);
      slot.batches.clear();
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.#slots.map((s) => s.worker?.terminate()));
  }
}

type WorkerMsg =
  | { t: 'ask'; seq: number; ids: string[] }
  | { t: 'blobs'; seq: number; buf: Uint8Array; blobs: SealedBlob[] }
  | { t: 'done'; bid: number; results: FileResult[] }
  | { t: 'fail'; bid: number; message: string };
