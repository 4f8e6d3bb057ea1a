/**
 * The blob index: which pack holds each blob, where, and how it is stored.
 *
 * On the backend, index files (`index/<id>`) each describe some packs (sealed JSON, see
 * docs/repository-format.md). In memory, all index files are merged into one `BlobIndex`: a Map from blob
 * id to a slot in parallel typed arrays (about 100 bytes a blob; a 1 TiB repository of 1 MiB chunks needs
 * ~100 MiB). Keeping it on disk instead, for repositories of hundreds of millions of blobs, is future work.
 */
import { IntegrityError } from '../core/index.ts';
import type { BlobType, PackedBlob } from './pack.ts';

export interface BlobLocation {
  id: string;
  pack: string;
  type: BlobType;
  offset: number;
  length: number;
  rawLength: number;
  compression: number;
}

export interface IndexFileJson {
  /** Not written by this version; readers ignore it (old index files are removed, not superseded). */
  supersedes?: string[];
  packs: Array<{
    id: string;
    blobs: Array<{ id: string; type: BlobType; offset: number; length: number; raw_length: number; compression: number }>;
  }>;
}

export class BlobIndex {
  readonly #slots = new Map<string, number>();
  readonly #packs: string[] = [];
  readonly #packNo = new Map<string, number>();
  #pack = new Uint32Array(1024);
  #offset = new Uint32Array(1024);
  #length = new Uint32Array(1024);
  #raw = new Uint32Array(1024);
  #flags = new Uint8Array(1024);
  #n = 0;

  get size(): number {
    return this.#n;
  }

  has(id: string): boolean {
    return this.#slots.has(id);
  }

  hasPack(packId: string): boolean {
    return this.#packNo.has(packId);
  }

  /** Add a pack's blobs. A blob already known keeps its first location (duplicates are left to prune). */
  addPack(packId: string, blobs: readonly PackedBlob[]): void {
    let p = this.#packNo.get(packId);
    if (p === undefined) {
      p = this.#packs.length;
      this.#packs.push(packId);
      this.#packNo.set(packId, p);
    }
    for (const b of blobs) {
      if (this.#slots.has(b.id)) continue;
      if (this.#n === this.#pack.length) this.#grow();
      const s = this.#n++;
      this.#pack[s] = p;
      this.#offset[s] = b.offset;
      this.#length[s] = b.length;
      this.#raw[s] = b.rawLength;
      this.#flags[s] = (b.type === 'tree' ? 1 : 0) | (b.compression << 1);
      this.#slots.set(b.id, s);
    }
  }

  get(id: string): BlobLocation | undefined {
    const s = this.#slots.get(id);
    if (s === undefined) return undefined;
    return this.#at(id, s);
  }

  /** The blob's plaintext length, without making a BlobLocation (restore planning asks it per chunk). */
  rawLength(id: string): number | undefined {
    const s = this.#slots.get(id);
    return s === undefined ? undefined : this.#raw[s];
  }

  *entries(): Generator<BlobLocation> {
    for (const [id, s] of this.#slots) yield this.#at(id, s);
  }

  packIds(): string[] {
    return [...this.#packs];
  }

  /** Forget everything (the index is about to be loaded again). */
  clear(): void {
    this.#slots.clear();
    this.#packs.length = 0;
    this.#packNo.clear();
    this.#n = 0;
  }

  #at(id: string, s: number): BlobLocation {
    const f = this.#flags[s]!;
    return {
      id,
      pack: this.#packs[this.#pack[s]!]!,
      type: f & 1 ? 'tree' : 'data',
      offset: this.#offset[s]!,
      length: this.#length[s]!,
      rawLength: this.#raw[s]!,
      compression: f >> 1,
    };
  }

  #grow(): void {
    const grow = <T extends Uint32Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(a.length * 2);
      b.set(a);
      return b;
    };
    this.#pack = grow(this.#pack);
    this.#offset = grow(this.#offset);
    this.#length = grow(this.#length);
    this.#raw = grow(this.#raw);
    this.#flags = grow(this.#flags);
  }
}

export function indexFileJson(packs: ReadonlyArray<{ id: string; blobs: readonly PackedBlob[] }>): IndexFileJson {
  return {
    packs: packs.map((p) => ({
      id: p.id,
      blobs: p.blobs.map((b) => ({ id: b.id, type: b.type, offset: b.offset, length: b.length, raw_length: b.rawLength, compression: b.compression })),
    })),
  };
}

/**
 * The packs an index file describes. Its numbers are checked to be what the in-memory structures hold
 * (offsets and lengths below 4 GiB, a known type): index files are authenticated, so a value out of range
 * means a writer's bug, and it is reported as a damaged index file rather than stored truncated.
 */
export function packsFromIndexJson(j: IndexFileJson, name = ''): Array<{ id: string; blobs: PackedBlob[] }> {
  const file = name ? `index file ${name}` : 'index file';
  if (!j || !Array.isArray(j.packs)) throw new IntegrityError(`${file} has no pack list`);
  return j.packs.map((p) => {
    if (!p || typeof p.id !== 'string' || !Array.isArray(p.blobs)) throw new IntegrityError(`${file} has a malformed pack entry`);
    return {
      id: p.id,
      blobs: p.blobs.map((b) => {
        if (!b || typeof b.id !== 'string' || (b.type !== 'data' && b.type !== 'tree') || !u32(b.offset) || !u32(b.length) || !u32(b.raw_length) || !(u32(b.compression) && b.compression < 128)) {
          throw new IntegrityError(`${file} has a malformed entry for pack ${String(p.id)}`);
        }
        return { id: b.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.raw_length, compression: b.compression };
      }),
    };
  });
}

function u32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
}
