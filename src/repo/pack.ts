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
import { aad, open, seal, type MasterKey } from './crypto.ts';

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

export class PackBuilder {
  readonly #parts: Uint8Array[] = [];
  readonly blobs: PackedBlob[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get count(): number {
    return this.blobs.length;
  }

  add(type: BlobType, id: string, sealed: Uint8Array, rawLength: number, compression: number): void {
    this.blobs.push({ id, type, offset: this.#size, length: sealed.length, rawLength, compression });
    this.#parts.push(sealed);
    this.#size += sealed.length;
  }

  /** The finished pack file and its name. */
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
    const bytes = Buffer.concat([...this.#parts, sealedHeader, len]);
    const id = createHash('sha256').update(bytes).digest('hex');
    return { id, bytes, blobs: this.blobs };
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
