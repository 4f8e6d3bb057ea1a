/**
 * Worker thread entry for RestoreWork. In: {t:'pack', id, job} and {t:'close', id}. Out: {t:'done', id,
 * result} or {t:'fail', id, message}. The key arrives in workerData and never leaves this process.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RestoreWork, type PackJob } from './restore-work.ts';

const port = parentPort!;
const work = new RestoreWork(workerData as { encryption: Uint8Array; mac: Uint8Array });

port.on('message', (m: { t: 'pack' | 'close'; id: number; job?: PackJob }) => {
  try {
    if (m.t === 'close') {
      work.closeAll();
      port.postMessage({ t: 'done', id: m.id, result: { bytes: 0, failed: [] } });
      return;
    }
    port.postMessage({ t: 'done', id: m.id, result: work.processPack(m.job!) });
  } catch (err) {
    port.postMessage({ t: 'fail', id: m.id, message: err instanceof Error ? err.message : String(err) });
  }
});
