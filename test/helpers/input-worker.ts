/**
 * Worker for the worker-pool tests: takes its input (workerInput) and answers each request with the input,
 * the request, and whether it was started ahead of need. Started ahead of need with FAIL_EARLY set in its
 * environment, it throws while loading (a worker that fails before it is taken). Request -1 throws an
 * IntegrityError with a hint, -2 a plain Error; request -3 is answered with a buffer that is transferred;
 * request -4 stops the worker before it answers (exit code 3), request -5 is answered only after a busy
 * 200 ms, and request -6 leaves 1 MiB of dead buffers behind (16 of 64 KiB, as a restore worker's decryption
 * does) and answers with the worker's buffer memory as the job began.
 */
import { workerData } from 'node:worker_threads';
import { DEFERRED_INPUT, IntegrityError, serveRequests, workerInput } from '../../src/core/index.ts';

const deferred = typeof workerData === 'object' && workerData !== null && DEFERRED_INPUT in workerData;
if (deferred && process.env['FAIL_EARLY'] === '1') throw new Error('failed while loading');
const input = await workerInput<{ tag: string }>();

serveRequests(
  (req: number): { tag: string; req: number; deferred: boolean; bytes?: Uint8Array; arrayBuffers?: number } => {
    if (req === -1) throw new IntegrityError('index file x is damaged', { hint: 'run lifeboat check' });
    if (req === -2) throw new Error('a bug');
    if (req === -4) process.exit(3); // the worker stops before it answers
    if (req === -5) {
      const until = Date.now() + 200;
      while (Date.now() < until); // busy: the answer comes after the other worker has stopped
    }
    if (req === -6) {
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 16; i++) Buffer.alloc(64 * 1024, i);
      return { tag: input.tag, req, deferred, arrayBuffers: before };
    }
    if (req === -3) return { tag: input.tag, req, deferred, bytes: new Uint8Array(1 << 20).fill(7) };
    return { tag: input.tag, req, deferred };
  },
  (res) => (res.bytes ? [res.bytes.buffer as ArrayBuffer] : []),
);
