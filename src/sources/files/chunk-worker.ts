/**
 * Worker thread entry for ChunkWork. Messages (all plain objects):
 *   in:  {t:'batch', bid, jobs}   {t:'need', seq, need}   {t:'ack', seq, buf}
 *   out: {t:'ask', seq, ids}      {t:'blobs', seq, buf, blobs}  {t:'done', bid, results}  {t:'fail', bid, message}
 * `blobs` transfers the buffer holding the sealed blobs; `ack` hands it back for the next batch.
 * The keys arrive as the worker's input (workerInput); they never leave this process.
 */
import { parentPort } from 'node:worker_threads';
import { collectWorkerGarbage, collectYoungGarbage, onParentMessage, workerInput } from '../../core/index.ts';
import { ChunkWork, type FileJob, type SealedBlob, type WorkKeys } from './chunk-work.ts';

const port = parentPort!;
const work = new ChunkWork(await workerInput<WorkKeys>());
const waiting = new Map<number, (v: unknown) => void>();
let seq = 0;

function call<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
  const s = ++seq;
  return new Promise<T>((resolve) => {
    waiting.set(s, resolve as (v: unknown) => void);
    port.postMessage({ ...msg, seq: s }, transfer);
  });
}

const env = {
  ask: (ids: string[]) => call<boolean[]>({ t: 'ask', ids }),
  emit: async (buf: Buffer, blobs: SealedBlob[]): Promise<Buffer | undefined> => {
    const ab = buf.buffer;
    const whole = ab instanceof ArrayBuffer && buf.byteOffset === 0 && buf.byteLength === ab.byteLength;
    const back = await call<Uint8Array | undefined>({ t: 'blobs', buf, blobs }, whole ? [ab] : []);
    // Sealing leaves a dead ciphertext buffer per blob outside the V8 heap: free them now (see core).
    collectYoungGarbage();
    if (!whole) return buf;
    return back ? Buffer.from(back.buffer, back.byteOffset, back.byteLength) : undefined;
  },
};

let queue: Promise<void> = Promise.resolve();

onParentMessage((m: { t: string; seq?: number; bid?: number; jobs?: FileJob[]; need?: boolean[]; buf?: Uint8Array }) => {
  if (m.t === 'need' || m.t === 'ack') {
    const r = waiting.get(m.seq!);
    waiting.delete(m.seq!);
    r?.(m.t === 'need' ? m.need : m.buf);
    return;
  }
  if (m.t === 'batch') {
    const bid = m.bid!;
    const jobs = m.jobs!;
    queue = queue.then(async () => {
      try {
        const results = await work.processBatch(jobs, env);
        port.postMessage({ t: 'done', bid, results });
        // Once this batch's objects are unreachable (after this continuation), collect them.
        setImmediate(collectWorkerGarbage);
      } catch (err) {
        port.postMessage({ t: 'fail', bid, message: err instanceof Error ? err.message : String(err) });
      }
    });
  }
});
