/**
 * Worker for the worker-pool tests: takes its input (workerInput) and answers each request with the input,
 * the request, and whether it was started ahead of need. Started ahead of need with FAIL_EARLY set in its
 * environment, it throws while loading (a worker that fails before it is taken).
 */
import { workerData } from 'node:worker_threads';
import { DEFERRED_INPUT, serveRequests, workerInput } from '../../src/core/index.ts';

const deferred = typeof workerData === 'object' && workerData !== null && DEFERRED_INPUT in workerData;
if (deferred && process.env['FAIL_EARLY'] === '1') throw new Error('failed while loading');
const input = await workerInput<{ tag: string }>();

serveRequests((req: number) => ({ tag: input.tag, req, deferred }));
