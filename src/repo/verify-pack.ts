/**
 * Verifying one pack's bytes completely: its name (SHA-256), its header against the index, and every
 * blob (authentication, decompression, id). Pure and synchronous, so `check --read-data` runs it in worker
 * threads (verify-worker.ts) on every core.
 *
 * A pack is normally verified in ranges (planRanges): the caller hashes the ranges in order and checks the
 * header in the last one (checkHeader), and each range's blobs are verified on their own (verifyBlobs), so
 * only a few MiB of a pack are in memory at a time. verifyPack does it all on a whole pack, for packs whose
 * index entries do not lie neatly in it (damage is then reported exactly as before).
 */
import { createHash } from 'node:crypto';
import type { MasterKey } from './crypto.ts';
import { parseHeader, type PackedBlob } from './pack.ts';
import { decodeBlob, type BlobScratch } from './repository.ts';
import { decodeTree, treeRefs, type TreeRefs } from './tree.ts';

export interface PackVerdict {
  /** Why the pack is damaged; empty when it is intact. */
  reasons: string[];
  /** Damaged blobs: id → reason. */
  damaged: Array<[string, string]>;
  /**
   * What each verified tree blob among them refers to, or why it does not parse: check's structure pass
   * then need not load and decode those trees again on its own thread.
   */
  trees?: VerifiedTrees;
}

export type VerifiedTrees = Array<[string, TreeRefs | { error: string }]>;

/** A request to verify-worker.ts: a whole pack, or the blobs of one range of a pack. */
export type VerifyReq =
  | { t: 'pack'; pack: string; bytes: Uint8Array; indexed: PackedBlob[]; size: number }
  | { t: 'blobs'; pack: string; start: number; bytes: Uint8Array; blobs: PackedBlob[] };

export function verifyPack(master: MasterKey, pack: string, bytes: Buffer, indexed: readonly PackedBlob[], size: number, scratch?: BlobScratch): PackVerdict {
  const reasons: string[] = [];
  if (bytes.length !== size) reasons.push(`size changed while reading (${size} → ${bytes.length})`);
  if (createHash('sha256').update(bytes).digest('hex') !== pack) reasons.push('contents do not match its name (SHA-256)');
  const header = checkHeader(master, pack, bytes, bytes.length, indexed);
  if (Array.isArray(header)) reasons.push(...header);
  const damaged = verifyBlobs(master, pack, 0, bytes, indexed, scratch);
  if (damaged.length) reasons.push(`${damaged.length} of ${indexed.length} blobs are damaged`);
  return { reasons, damaged };
}

/**
 * The header (parsed from `tail`, the last bytes of a pack of `size` bytes) must list every indexed blob at
 * its indexed place. Returns the reasons it does not; `{ need }` when `tail` is too short to hold the header.
 */
export function checkHeader(master: MasterKey, pack: string, tail: Buffer, size: number, indexed: readonly PackedBlob[]): string[] | { need: number } {
  const reasons: string[] = [];
  try {
    const header = parseHeader(master, tail, size, pack);
    if (!Array.isArray(header)) {
      if (tail.length < size) return header;
      reasons.push('header length is wrong');
    } else {
      const inHeader = new Map(header.map((b) => [b.id, b]));
      for (const b of indexed) {
        const h = inHeader.get(b.id);
        if (!h || h.offset !== b.offset || h.length !== b.length) reasons.push(`blob ${b.id} is in the index but not at that place in the pack header`);
      }
    }
  } catch (err) {
    reasons.push(`header: ${(err as Error).message}`);
  }
  return reasons;
}

/**
 * Decode every blob of `blobs` from `bytes`, which holds the pack from offset `start`. Returns the damaged
 * ones; with `trees`, also collects what each intact tree blob refers to there (treeRefs).
 */
export function verifyBlobs(
  master: MasterKey,
  pack: string,
  start: number,
  bytes: Buffer,
  blobs: readonly PackedBlob[],
  scratch?: BlobScratch,
  trees?: VerifiedTrees,
): Array<[string, string]> {
  const damaged: Array<[string, string]> = [];
  for (const b of blobs) {
    try {
      if (b.offset < start || b.offset + b.length > start + bytes.length) throw new Error('blob lies beyond the end of the pack');
      const plain = decodeBlob(master, b, pack, bytes.subarray(b.offset - start, b.offset - start + b.length), scratch);
      if (trees && b.type === 'tree') {
        let refs: TreeRefs | { error: string };
        try {
          refs = treeRefs(decodeTree(plain, b.id));
        } catch (err) {
          refs = { error: (err as Error).message };
        }
        trees.push([b.id, refs]);
      }
    } catch (err) {
      damaged.push([b.id, (err as Error).message]);
    }
  }
  return damaged;
}

export interface PackRange {
  start: number;
  end: number;
  /** The indexed blobs lying wholly in this range. */
  blobs: PackedBlob[];
}

/**
 * Cut a pack of `size` bytes into consecutive ranges covering all of it, each of about `target` bytes,
 * cut only between indexed blobs (a larger blob gets a range of its own); the last range runs from the end
 * of the last blob to the end of the pack (the header). Undefined when the indexed blobs overlap or do not
 * lie inside the pack: verifyPack then reads it whole and reports what is wrong.
 */
export function planRanges(indexed: readonly PackedBlob[], size: number, target: number): PackRange[] | undefined {
  const blobs = [...indexed].sort((a, b) => a.offset - b.offset);
  const ranges: PackRange[] = [];
  let cur: PackRange = { start: 0, end: 0, blobs: [] };
  for (const b of blobs) {
    if (b.offset < cur.end || b.offset + b.length + 4 > size) return undefined;
    if (cur.blobs.length > 0 && b.offset + b.length - cur.start > target) {
      ranges.push(cur);
      cur = { start: cur.end, end: cur.end, blobs: [] };
    }
    cur.blobs.push(b);
    cur.end = b.offset + b.length;
  }
  if (cur.blobs.length > 0) {
    ranges.push(cur);
    cur = { start: cur.end, end: cur.end, blobs: [] };
  }
  cur.end = size;
  ranges.push(cur);
  return ranges;
}
