/**
 * Verifying one pack's bytes completely: its name (SHA-256), its header against the index, and every
 * blob (authentication, decompression, id). Pure and synchronous, so `check --read-data` runs it in worker
 * threads (verify-worker.ts) on every core.
 */
import { createHash } from 'node:crypto';
import type { MasterKey } from './crypto.ts';
import { parseHeader, type PackedBlob } from './pack.ts';
import { decodeBlob } from './repository.ts';

export interface PackVerdict {
  /** Why the pack is damaged; empty when it is intact. */
  reasons: string[];
  /** Damaged blobs: id → reason. */
  damaged: Array<[string, string]>;
}

export function verifyPack(master: MasterKey, pack: string, bytes: Buffer, indexed: readonly PackedBlob[], size: number): PackVerdict {
  const reasons: string[] = [];
  const damaged: Array<[string, string]> = [];
  if (bytes.length !== size) reasons.push(`size changed while reading (${size} → ${bytes.length})`);
  if (createHash('sha256').update(bytes).digest('hex') !== pack) reasons.push('contents do not match its name (SHA-256)');
  try {
    const header = parseHeader(master, bytes, bytes.length, pack);
    if (!Array.isArray(header)) reasons.push('header length is wrong');
    else {
      const inHeader = new Map(header.map((b) => [b.id, b]));
      for (const b of indexed) {
        const h = inHeader.get(b.id);
        if (!h || h.offset !== b.offset || h.length !== b.length) reasons.push(`blob ${b.id} is in the index but not at that place in the pack header`);
      }
    }
  } catch (err) {
    reasons.push(`header: ${(err as Error).message}`);
  }
  for (const b of indexed) {
    try {
      if (b.offset + b.length > bytes.length) throw new Error('blob lies beyond the end of the pack');
      decodeBlob(master, { ...b, pack }, bytes.subarray(b.offset, b.offset + b.length));
    } catch (err) {
      damaged.push([b.id, (err as Error).message]);
    }
  }
  if (damaged.length) reasons.push(`${damaged.length} of ${indexed.length} blobs are damaged`);
  return { reasons, damaged };
}
