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
 * Builds one pack in one buffer: each blob is copied in as it arrives, so the sealed buffers it came in
 * are garbage at once and the pack is never concatenated (which held every pack twice in memory).
 */
export class PackBuilder {
  readonly blobs: PackedBlob[] = [];
  #buf: Buffer;
  #size = 0;
  readonly #hash = createHash('sha256');

  readonly #maxCapacity: number;

  /**
   * `capacity`: expected final size, or a buffer to build in (reused from a saved pack). A full buffer
   * doubles, but not beyond `maxCapacity` unless a single append needs more.
   */
  constructor(capacity: number | Buffer = 1 << 20, maxCapacity = Infinity) {
    this.#buf = typeof capacity === 'number' ? Buffer.allocUnsafe(capacity) : capacity;
    this.#maxCapacity = maxCapacity;
  }

  /** The whole buffer the pack is built in (to reuse once the finished pack is saved). */
  get buffer(): Buffer {
    return this.#buf;
  }

  /** The size of the pack if it were finished now: blobs, sealed header and its length. */
  get finishedSize(): number {
    return this.#size + this.blobs.length * HEADER_ENTRY_SIZE + SEAL_OVERHEAD + 4;
  }

  get count(): number {
    return this.blobs.length;
  }

  add(type: BlobType, id: string, sealed: Uint8Array, rawLength: number, compression: number): void {
    this.blobs.push({ id, type, offset: this.#size, length: sealed.length, rawLength, compression });
    this.#append(sealed);
  }

  #append(data: Uint8Array): void {
    if (this.#size + data.length > this.#buf.length) {
      const need = this.#size + data.length;
      const bigger = Buffer.allocUnsafe(Math.max(need, Math.min(this.#buf.length * 2, this.#maxCapacity)));
      this.#buf.copy(bigger, 0, 0, this.#size);
      this.#buf = bigger;
    }
    this.#buf.set(data, this.#size);
    this.#hash.update(data);
    this.#size += data.length;
  }

  /** The finished pack file and its name. The builder is not used after this. */
  finish(key: MasterKey): { id: string; bytes: Buffer; blobs: PackedBlob[] } {
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
    const id = this.#hash.digest('hex');
    return { id, bytes: this.#buf.subarray(0, this.#size), blobs: this.blobs };
  }
}

/** Parse a pack's header from its last bytes. `tail` must end at the end of the pack. */
export function parseHeader(key: MasterKey, tail: Buffer, packSize: number, packId: string): PackedBlob[] | { need: number } {
  if (tail.length < 4) throw new IntegrityError(`pack ${packId}: too short (${packSize} bytes)`);
  const hlen = tail.readUInt32LE(tail.length - 4);
  if (hlen + 4 > packSize) throw new IntegrityError(`pack ${packId}: header length ${hlen} exceeds pack size ${packSize}`);
  if (hlen + 4 > tail.length) return { need: hlen + 4 };
  const header = open(key, tail.subarray(tail.length - 4 - hlen, tail.length - 4), `pack ${packId} header`, aad('pack-header'));
  if (header.length % HEADER_ENTRY_SIZE !== 0) throw new IntegrityError(`pack ${packId}: header has a partial entry`);
  const blobs: PackedBlob[] = [];
  const dataEnd = packSize - 4 - hlen;
  for (let o = 0; o < header.length; o += HEADER_ENTRY_SIZE) {
    const t = header.readUInt8(o);
    if (t > 1) throw new IntegrityError(`pack ${packId}: unknown blob type ${t} in header`);
    const b: PackedBlob = {
      type: t === 1 ? 'tree' : 'data',
      compression: header.readUInt8(o + 1),
      offset: header.readUInt32LE(o + 4),
      length: header.readUInt32LE(o + 8),
      rawLength: header.readUInt32LE(o + 12),
      id: header.toString('hex', o + 16, o + 48),
    };
    if (b.offset + b.length > dataEnd) throw new IntegrityError(`pack ${packId}: blob ${b.id} lies outside the pack`);
    blobs.push(b);
  }
  return blobs;
}
