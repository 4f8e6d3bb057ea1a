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
import { transferable, type WorkerPool } from '../core/index.ts';
import type { IndexedPacks } from './blob-index.ts';
import type { MasterKey } from './crypto.ts';
import { HEADER_ENTRY_SIZE, openHeader, type PackedBlob } from './pack.ts';
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

/**
 * A request to verify-worker.ts: a whole pack, or the blobs of one range of a pack (answered with a
 * PackVerdict); or an index file to decode (answered with its IndexedPacks).
 */
export type VerifyReq =
  | { t: 'pack'; pack: string; bytes: Uint8Array; indexed: PackedBlob[]; size: number }
  | { t: 'blobs'; pack: string; start: number; bytes: Uint8Array; blobs: PackedBlob[] }
  | { t: 'index'; name: string; bytes: Uint8Array };

/** Workers serving VerifyReq (verify-worker.ts). */
export type VerifyPool = WorkerPool<VerifyReq, PackVerdict | IndexedPacks>;

/** Verify a pack or a range in the pool. */
export function verifyIn(pool: VerifyPool, req: Extract<VerifyReq, { t: 'pack' | 'blobs' }>, transfer: ArrayBuffer[] = []): Promise<PackVerdict> {
  return pool.run(req, transfer) as Promise<PackVerdict>;
}

/** Decode an index file in the pool; its bytes are moved there. */
export function decodeIndexIn(pool: VerifyPool, name: string, bytes: Buffer): Promise<IndexedPacks> {
  return pool.run({ t: 'index', name, bytes }, transferable(bytes)) as Promise<IndexedPacks>;
}

export function verifyPack(master: MasterKey, pack: string, bytes: Buffer, indexed: readonly PackedBlob[], size: number, scratch?: BlobScratch): PackVerdict {
  const reasons: string[] = [];
  if (bytes.length !== size) reasons.push(`size changed while reading (${size} → ${bytes.length})`);
  if (createHash('sha256').update(bytes).digest('hex') !== pack) reasons.push('contents do not match its name (SHA-256)');
  const header = checkHeader(master, pack, bytes, bytes.length, blobTable(indexed));
  if (Array.isArray(header)) reasons.push(...header);
  const damaged = verifyBlobs(master, pack, 0, bytes, indexed, scratch);
  if (damaged.length) reasons.push(`${damaged.length} of ${indexed.length} blobs are damaged`);
  return { reasons, damaged };
}

/**
 * The header (parsed from `tail`, the last bytes of a pack of `size` bytes) must list every indexed blob at
 * its indexed place. Returns the reasons it does not; `{ need }` when `tail` is too short to hold the header.
 */
export function checkHeader(master: MasterKey, pack: string, tail: Buffer, size: number, indexed: BlobTable): string[] | { need: number } {
  const reasons: string[] = [];
  try {
    const header = openHeader(master, tail, size, pack);
    if (!Buffer.isBuffer(header)) {
      if (tail.length < size) return header;
      reasons.push('header length is wrong');
    } else {
      // Compared where they lie, entry by entry: as objects, a header of the 100,000-file bench repository
      // (~20,000 blobs) was ~3 MiB of short-lived garbage on check's main thread per pack.
      const at = headerByOffset(header);
      for (let i = 0; i < indexed.count; i++) {
        const off = indexed.offset(i);
        let found = false;
        for (let k = lowerBound(at, off); k < at.order.length && at.offsets[k] === off && !found; k++) {
          const o = at.order[k]! * HEADER_ENTRY_SIZE;
          found = header.readUInt32LE(o + 8) === indexed.length(i) && indexed.sameId(i, header, o + 16);
        }
        if (!found) reasons.push(`blob ${indexed.id(i)} is in the index but not at that place in the pack header`);
      }
    }
  } catch (err) {
    reasons.push(`header: ${(err as Error).message}`);
  }
  return reasons;
}

/** A header's entries in the order of their offsets: `order` (entry numbers) and `offsets` (theirs). */
function headerByOffset(header: Buffer): { order: Uint32Array; offsets: Uint32Array } {
  const n = header.length / HEADER_ENTRY_SIZE;
  const order = new Uint32Array(n);
  const offsetOf = (e: number): number => header.readUInt32LE(e * HEADER_ENTRY_SIZE + 4);
  let sorted = true;
  for (let e = 0; e < n; e++) {
    order[e] = e;
    if (e > 0 && offsetOf(e) < offsetOf(e - 1)) sorted = false;
  }
  if (!sorted) order.sort((a, b) => offsetOf(a) - offsetOf(b));
  return { order, offsets: order.map(offsetOf) };
}

/** The first position in `at.offsets` (ascending) holding `off` or more. */
function lowerBound(at: { offsets: Uint32Array }, off: number): number {
  let lo = 0;
  let hi = at.offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at.offsets[mid]! < off) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

/**
 * The blobs an index places in one pack, by position (0 .. count - 1). check keeps every pack's this way,
 * in typed arrays: a pack of 100,000-file bench repository holds ~20,000 blobs, and as PackedBlob objects
 * (with their id strings) the packs being checked were ~11 MiB of check's heap (2026-11-30).
 */
export interface BlobTable {
  readonly count: number;
  id(i: number): string;
  /** Whether blob i's id is the 32 bytes at bytes[at ..]. */
  sameId(i: number, bytes: Uint8Array, at: number): boolean;
  offset(i: number): number;
  length(i: number): number;
  blob(i: number): PackedBlob;
}

/** A BlobTable over a list. */
export function blobTable(list: readonly PackedBlob[]): BlobTable {
  return {
    count: list.length,
    id: (i) => list[i]!.id,
    sameId: (i, bytes, at) => Buffer.from(bytes.buffer, bytes.byteOffset + at, 32).toString('hex') === list[i]!.id,
    offset: (i) => list[i]!.offset,
    length: (i) => list[i]!.length,
    blob: (i) => list[i]!,
  };
}

export interface PackRange {
  start: number;
  end: number;
  /** The positions (in the BlobTable) of the indexed blobs lying wholly in this range, by offset. */
  blobs: Uint32Array;
}

/** The PackedBlobs of a range (made when it is handed to a worker, so they never pile up). */
export function rangeBlobs(t: BlobTable, r: PackRange): PackedBlob[] {
  return Array.from(r.blobs, (i) => t.blob(i));
}

/**
 * Cut a pack of `size` bytes into consecutive ranges covering all of it, each of about `target` bytes,
 * cut only between indexed blobs (a larger blob gets a range of its own); the last range runs from the end
 * of the last blob to the end of the pack (the header). Undefined when the indexed blobs overlap or do not
 * lie inside the pack: verifyPack then reads it whole and reports what is wrong.
 */
export function planRanges(t: BlobTable, size: number, target: number): PackRange[] | undefined {
  const order = new Uint32Array(t.count);
  let sorted = true;
  for (let i = 0; i < t.count; i++) {
    order[i] = i;
    if (i > 0 && t.offset(i) < t.offset(i - 1)) sorted = false;
  }
  if (!sorted) order.sort((a, b) => t.offset(a) - t.offset(b));
  const ranges: PackRange[] = [];
  let start = 0;
  let end = 0;
  let first = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const off = t.offset(i);
    const len = t.length(i);
    if (off < end || off + len + 4 > size) return undefined;
    if (k > first && off + len - start > target) {
      ranges.push({ start, end, blobs: order.subarray(first, k) });
      start = end;
      first = k;
    }
    end = off + len;
  }
  if (order.length > first) {
    ranges.push({ start, end, blobs: order.subarray(first) });
    start = end;
  }
  ranges.push({ start, end: size, blobs: order.subarray(order.length) });
  return ranges;
}
