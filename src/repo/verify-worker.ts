/** Worker thread entry for verifyPack (check --read-data). The key arrives in workerData. */
import { workerData } from 'node:worker_threads';
import { serveRequests } from '../core/index.ts';
import type { PackedBlob } from './pack.ts';
import { verifyPack, type PackVerdict } from './verify-pack.ts';

const k = workerData as { encryption: Uint8Array; mac: Uint8Array };
const master = { encryption: Buffer.from(k.encryption), mac: Buffer.from(k.mac) };

serveRequests((req: { pack: string; bytes: Uint8Array; indexed: PackedBlob[]; size: number }): PackVerdict =>
  verifyPack(master, req.pack, Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength), req.indexed, req.size),
);
