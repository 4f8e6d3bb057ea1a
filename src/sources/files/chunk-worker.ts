/**
 * Worker thread entry for ChunkWork. Messages (all plain objects):
 *   in:  {t:'batch', bid, jobs}   {t:'need', seq, need}   {t:'ack', seq}
 *   out: {t:'ask', seq, ids}      {t:'blobs', seq, blobs}  {t:'done', bid, results}  {t:'fail', bid, message}
 * The keys arrive in workerData; they never leave this process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ChunkWork, type FileJob, type SealedBlob, type WorkKeys } from './chunk-work.ts';

const port = parentPort!;
const work = new ChunkWork(workerData as WorkKeys);
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
  emit: async (blobs: SealedBlob[]) => {
    const transfer: ArrayBuffer[] = [];
    for (const b of blobs) {
      const ab = b.sealed.buffer;
      if (ab instanceof ArrayBuffer && b.sealed.byteOffset === 0 && b.sealed.byteLength === ab.byteLength) transfer.push(ab);
    }
    await call<void>({ t: 'blobs', blobs }, transfer);
  },
};

let queue: Promise<void> = Promise.resolve();

port.on('message', (m: { t: string; seq?: number; bid?: number; jobs?: FileJob[]; need?: boolean[] }) => {
  if (m.t === 'need' || m.t === 'ack') {
    const r = waiting.get(m.seq!);
    waiting.delete(m.seq!);
    r?.(m.need);
    return;
  }
  if (m.t === 'batch') {
    const bid = m.bid!;
    const jobs = m.jobs!;
    queue = queue.then(async () => {
      try {
        const results = await work.processBatch(jobs, env);
        port.postMessage({ t: 'done', bid, results });
      } catch (err) {
        port.postMessage({ t: 'fail', bid, message: err instanceof Error ? err.message : String(err) });
      }
    });
  }
});
