/** Worker for the nonce test: seals one object under the key in workerData and posts the sealed bytes. */
import { parentPort, workerData } from 'node:worker_threads';
import { seal } from '../../src/repo/index.ts';

parentPort!.postMessage(Buffer.from(seal({ encryption: Buffer.from(workerData as Uint8Array) }, Buffer.from('x'))));
