/** Worker thread entry for RestoreWork: pack jobs, and `close` (close every open file). */
import { serveRequests, workerInput } from '../../core/index.ts';
import { RestoreWork, type PackJob, type PackResult } from './restore-work.ts';

const work = new RestoreWork(await workerInput<{ encryption: Uint8Array; mac: Uint8Array }>());

serveRequests((req: { t: 'pack'; job: PackJob } | { t: 'close' }): PackResult => {
  if (req.t === 'close') {
    work.closeAll();
    return { bytes: 0, failed: [] };
  }
  return work.processPack(req.job);
});
