/**
 * Packs: many sealed blobs in one backend file, followed by their sealed header.
 *
 *     blob 0 ‖ blob 1 ‖ … ‖ blob n-1 ‖ sealed header ‖ header length (u32 LE, of the sealed header)
 *
 * Each blob is `seal(compressed-or-raw plaintext)`. The header lists, per blob, 48 bytes:
 * type (u8: 0 data, 1 tree), compression (u8: 0 none, 1 zstd), 2 zero bytes, offset (u32 LE),
 * length (u32 LE, sealed length), raw length (u32 LE, plaintext length), id (32 bytes).
 * A pack's name is the SHA-256 of its bytes, so a damaged pack is recognisable without any key.
 */
import { createHash } from 'node:crypto';
import { IntegrityError } from '../core/index.ts';
import type { FileWriter } from './backend/index.ts';
import { aad, open, seal, SEAL_OVERHEAD, type MasterKey } from './crypto.ts';

export type BlobType = 'data' | 'tree';

export interface PackedBlob {
  id: string;
  type: BlobType;
  offset: number;
  length: number;
  rawLength: number;
  compression: number;
}

export const HEADER_ENTRY_SIZE = 48;

/**
 * Bytes a pack builder gathers before writing them out. Packs used to be built whole in memory and saved
 * at once: two 18 MiB buffers (one filling, one being saved) were the largest single item of a backup's
 * memory. Written out in 1 MiB pieces while they are built, a pack never sits in memory whole.
 */
const PIECE = 1 << 20;
/** Pieces being written at once before `settle` makes the producer wait for the disk. */
const PIECES_IN_FLIGHT = 2;

/**
 * Builds one pack straight into a backend writer (Backend.writer): each blob is copied into the current
 * 1 MiB piece as it arrives, so the buffer it came in can be reused at once, and full pieces are written
 * while the next ones fill. The name (SHA-256 of the bytes) is known at `finish`; the caller then commits
 * the writer under it, or discards it.
 */
export class PackBuilder {
  readonly blobs: PackedBlob[] = [];
  /** Where the pack goes: commit it under the name `finish` returns, or discard it. */
  readonly out: FileWriter;
  readonly #hash = createHash('sha256');
  #size = 0;
  #piece: Buffer | undefined;
  #fill = 0;
  /** Pieces written out, to fill again. */
  readonly #free: Buffer[] = [];
  readonly #writing = new Set<Promise<void>>();
  #failed: unknown;

  constructor(out: FileWriter) {
    this.out = out;
  }

  /** The size of the pack if it were finished now: blobs, sealed header and its length. */
  get finishedSize(): number {
    return this.#size + this.blobs.length * HEADER_ENTRY_SIZE + SEAL_OVERHEAD + 4;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** Add a sealed blob. It is copied, so `sealed` may be reused at once; call `settle` now and then. */
  add(type: BlobType, id: string, sealed: Uint8Array, rawLength: number, compression: number): void {
    this.blobs.push({ id, type, offset: this.#size, length: sealed.length, rawLength, compression });
    this.#append(sealed);
  }

  #append(data: Uint8Array): void {
    this.#hash.update(data);
    this.#size += data.length;
    for (let off = 0; off < data.length; ) {
      this.#piece ??= this.#free.pop() ?? Buffer.allocUnsafe(PIECE);
      const n = Math.min(data.length - off, PIECE - this.#fill);
      this.#piece.set(data.subarray(off, off + n), this.#fill);
      this.#fill += n;
      off += n;
      if (this.#fill === PIECE) this.#spill();
    }
  }

  /** Start writing the current piece (the writer places it after the ones before). */
  #spill(): void {
    const piece = this.#piece;
    const n = this.#fill;
    this.#piece = undefined;
    this.#fill = 0;
    if (!piece || n === 0) return;
    const w: Promise<void> = this.out
      .write(piece.subarray(0, n))
      .then(
        () => void this.#free.push(piece),
        (err: unknown) => void (this.#failed ??= err),
      )
      .finally(() => this.#writing.delete(w));
    this.#writing.add(w);
  }

  /**
   * Resolves once at most `pieces` pieces are being written; rejects if a write failed. Undefined when
   * there is nothing to wait for (the common case: no promise per blob).
   */
  settle(pieces = PIECES_IN_FLIGHT): Promise<void> | undefined {
    if (this.#writing.size <= pieces && this.#failed === undefined) return undefined;
    return this.#settle(pieces);
  }

  async #settle(pieces: number): Promise<void> {
    while (this.#writing.size > pieces) await Promise.race(this.#writing);
    if (this.#failed !== undefined) throw this.#failed;
  }

  /**
   * Append the sealed header and its length and write out the rest. Resolves with the pack's name and
   * size once every byte is written (not yet committed). The builder takes no blobs after this.
   */
  async finish(key: MasterKey): Promise<{ id: string; size: number; blobs: PackedBlob[] }> {
    const header = Buffer.alloc(this.blobs.length * HEADER_ENTRY_SIZE);
    this.blobs.forEach((b, i) => {
      const o = i * HEADER_ENTRY_SIZE;
      header.writeUInt8(b.type === 'tree' ? 1 : 0, o);
      header.writeUInt8(b.compression, o + 1);
      header.writeUInt32LE(b.offset, o + 4);
      header.writeUInt32LE(b.length, o + 8);
      header.writeUInt32LE(b.rawLength, o + 12);
      header.write(b.id, o + 16, 'hex');
    });
    const sealedHeader = seal(key, header, aad('pack-header'));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(sealedHeader.length);
    this.#append(sealedHeader);
    this.#append(len);
    this.#spill();
    await this.#settle(0);
    this.#free.length = 0;
    return { id: this.#hash.digest('hex'), size: this.#size, blobs: this.blobs };
  }
}

/**
 * A pack's header from its last bytes (`tail` must end at the end of the pack), decrypted and checked:
 * every entry has a known type and lies inside the pack. HEADER_ENTRY_SIZE bytes an entry; `{ need }` when
 * `tail` is too short to hold it.
 */
export function openHeader(key: MasterKey, tail: Buffer, packSize: number, packId: string): Buffer | { need: number } {
  if (tail.length < 4) throw new IntegrityError(`pack ${packId}: too short (${packSize} bytes)`);
  const hlen = tail.readUInt32LE(tail.length - 4);
  if (hlen + 4 > packSize) throw new IntegrityError(`pack ${packId}: header length ${hlen} exceeds pack size ${packSize}`);
  if (hlen + 4 > tail.length) return { need: hlen + 4 };
  const header = open(key, tail.subarray(tail.length - 4 - hlen, tail.length - 4), `pack ${packId} header`, aad('pack-header'));
  if (header.length % HEADER_ENTRY_SIZE !== 0) throw new IntegrityError(`pack ${packId}: header has a partial entry`);
  const dataEnd = packSize - 4 - hlen;
  for (let o = 0; o < header.length; o += HEADER_ENTRY_SIZE) {
    const t = header[o]!;
    if (t > 1) throw new IntegrityError(`pack ${packId}: unknown blob type ${t} in header`);
    if (header.readUInt32LE(o + 4) + header.readUInt32LE(o + 8) > dataEnd) {
      throw new IntegrityError(`pack ${packId}: blob ${header.toString('hex', o + 16, o + 48)} lies outside the pack`);
    }
  }
  return header;
}

/** Parse a pack's header from its last bytes (see openHeader) into its blobs. */
export function parseHeader(key: MasterKey, tail: Buffer, packSize: number, packId: string): PackedBlob[] | { need: number } {
  const header = openHeader(key, tail, packSize, packId);
  if (!Buffer.isBuffer(header)) return header;
  const blobs: PackedBlob[] = [];
  for (let o = 0; o < header.length; o += HEADER_ENTRY_SIZE) {
    blobs.push({
      type: header[o] === 1 ? 'tree' : 'data',
      compression: header[o + 1]!,
      offset: header.readUInt32LE(o + 4),
      length: header.readUInt32LE(o + 8),
      rawLength: header.readUInt32LE(o + 12),
      id: header.toString('hex', o + 16, o + 48),
    });
  }
  return blobs;
}
