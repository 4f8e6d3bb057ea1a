/**
 * The blob index: which pack holds each blob, where, and how it is stored.
 *
 * On the backend, index files (`index/<id>`) each describe some packs (sealed, in a binary form or, as
 * older writers wrote them, JSON; see docs/repository-format.md §9). In memory, all index files are merged
 * into one `BlobIndex`: blob ids as bytes in a hash table (`IdTable`), each with a slot in parallel typed
 * arrays, all outside the V8 heap.
 * Keeping it on disk instead, for repositories of hundreds of millions of blobs, is future work.
 */
import { defaults, IntegrityError } from '../core/index.ts';
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

/** A blob or pack id as the repository writes it: 64 lowercase hex digits (32 bytes). */
const ID_HEX = /^[0-9a-f]{64}$/;

function isBlobId(id: string): boolean {
  return id.length === 64 && ID_HEX.test(id);
}

/**
 * Blob ids held as their 32 bytes, 8 u32 words a slot, in one growable typed array: not as hex strings.
 * A 64-digit id string is 80 bytes of V8 heap and one more object for the collector to trace; the index of
 * the 100,000-file bench repository (110,000 blobs) held ~11 MiB of them, and V8 lets its old generation
 * grow to twice what is live (see core/heap.ts) (2026-11-30).
 */
class BlobIds {
  #words = new Uint32Array(8 * 64);
  #bytes = Buffer.from(this.#words.buffer);
  #n = 0;

  get size(): number {
    return this.#n;
  }

  /** Append the id held in words[at .. at + 8]; returns its slot. */
  pushWords(words: Uint32Array, at: number): number {
    this.#room();
    const w = this.#words;
    const o = this.#n * 8;
    for (let i = 0; i < 8; i++) w[o + i] = words[at + i]!;
    return this.#n++;
  }

  #room(): void {
    if ((this.#n + 1) * 8 <= this.#words.length) return;
    const grown = new Uint32Array(this.#words.length * 2);
    grown.set(this.#words);
    this.#words = grown;
    this.#bytes = Buffer.from(grown.buffer);
  }

  hex(slot: number): string {
    return this.#bytes.toString('hex', slot * 32, slot * 32 + 32);
  }

  /** The id's first 4 bytes as a number: ids are MACs and hashes, so this is already a good hash. */
  head(slot: number): number {
    return this.#words[slot * 8]!;
  }

  /** Whether slot holds the id in key[at .. at + 8]. */
  equals(slot: number, key: Uint32Array, at: number): boolean {
    const w = this.#words;
    const o = slot * 8;
    for (let i = 0; i < 8; i++) if (w[o + i] !== key[at + i]) return false;
    return true;
  }

  clear(): void {
    this.#n = 0;
  }
}

/** A lookup key: an id's 8 words, decoded from hex into one reused buffer. */
class IdKey {
  readonly words = new Uint32Array(8);
  readonly #bytes = Buffer.from(this.words.buffer);

  /**
   * Decode id into words; false when it is not 64 hex digits (then no blob has it). Upper-case digits are
   * not refused here: a regular expression per lookup cost more than the lookup, and a hex decoder in
   * JavaScript was slower than Buffer's (2026-11-30). Ids are written in lower case, and a blob read under
   * any other spelling fails its id check (decodeBlob).
   */
  set(id: string): boolean {
    return id.length === 64 && this.#bytes.write(id, 0, 32, 'hex') === 32;
  }
}

/**
 * Ids to slots: open addressing with linear probing over `BlobIds`, at most half full, keyed by each id's
 * first word. Slots are added, never removed (only cleared all at once).
 */
class IdTable {
  readonly ids = new BlobIds();
  #table = new Int32Array(128); // slot + 1; 0 = empty
  readonly #key = new IdKey();

  get size(): number {
    return this.ids.size;
  }

  /** The slot of id, or -1. */
  find(id: string): number {
    if (!this.#key.set(id)) return -1;
    return this.findWords(this.#key.words, 0);
  }

  /** The slot of the id in words[at .. at + 8], or -1. */
  findWords(words: Uint32Array, at: number): number {
    const t = this.#table;
    const mask = t.length - 1;
    for (let i = words[at]! & mask; ; i = (i + 1) & mask) {
      const e = t[i]!;
      if (e === 0) return -1;
      if (this.ids.equals(e - 1, words, at)) return e - 1;
    }
  }

  /** Add id (64 hex digits) unless it is there: its new slot, or -1 when it was there already. */
  add(id: string): number {
    if (!this.#key.set(id)) throw new IntegrityError(`${JSON.stringify(id.slice(0, 80))} is not a blob id`);
    return this.addWords(this.#key.words, 0);
  }

  /** Add the id in words[at .. at + 8] unless it is there: its new slot, or -1. */
  addWords(words: Uint32Array, at: number): number {
    if (this.findWords(words, at) >= 0) return -1;
    if ((this.ids.size + 1) * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    const slot = this.ids.pushWords(words, at);
    this.#place(slot);
    return slot;
  }

  clear(): void {
    this.ids.clear();
    this.#table = new Int32Array(128);
  }

  #place(slot: number): void {
    const t = this.#table;
    const mask = t.length - 1;
    let i = this.ids.head(slot) & mask;
    while (t[i] !== 0) i = (i + 1) & mask;
    t[i] = slot + 1;
  }

  #rehash(size: number): void {
    this.#table = new Int32Array(size);
    for (let s = 0; s < this.ids.size; s++) this.#place(s);
  }
}

/**
 * All index files merged: for each blob, its pack and place, in parallel typed arrays by slot of an
 * `IdTable` (~57 bytes a blob, outside the V8 heap; a 1 TiB repository of 1 MiB chunks needs ~60 MiB).
 */
export class BlobIndex {
  readonly #ids = new IdTable();
  readonly #packs: string[] = [];
  readonly #packNo = new Map<string, number>();
  #pack = new Uint32Array(1024);
  #offset = new Uint32Array(1024);
  #length = new Uint32Array(1024);
  #raw = new Uint32Array(1024);
  #flags = new Uint8Array(1024);

  get size(): number {
    return this.#ids.size;
  }

  has(id: string): boolean {
    return this.#ids.find(id) >= 0;
  }

  hasPack(packId: string): boolean {
    return this.#packNo.has(packId);
  }

  /** Add a pack's blobs. A blob already known keeps its first location (duplicates are left to prune). */
  addPack(packId: string, blobs: readonly PackedBlob[]): void {
    const p = this.#packNumber(packId);
    for (const b of blobs) {
      const s = this.#ids.add(b.id);
      if (s >= 0) this.#set(s, p, b.offset, b.length, b.rawLength, blobFlags(b.type, b.compression));
    }
  }

  /** Add the packs of one index file (see addPack). */
  addIndexed(ip: IndexedPacks): void {
    let b = 0;
    ip.packs.forEach((packId, k) => {
      const p = this.#packNumber(packId);
      for (const end = b + ip.counts[k]!; b < end; b++) {
        const s = this.#ids.addWords(ip.ids, b * 8);
        const n = ip.nums;
        if (s >= 0) this.#set(s, p, n[b * 4]!, n[b * 4 + 1]!, n[b * 4 + 2]!, n[b * 4 + 3]!);
      }
    });
  }

  #packNumber(packId: string): number {
    let p = this.#packNo.get(packId);
    if (p === undefined) {
      p = this.#packs.length;
      this.#packs.push(packId);
      this.#packNo.set(packId, p);
    }
    return p;
  }

  #set(s: number, pack: number, offset: number, length: number, raw: number, flags: number): void {
    if (s === this.#pack.length) this.#grow();
    this.#pack[s] = pack;
    this.#offset[s] = offset;
    this.#length[s] = length;
    this.#raw[s] = raw;
    this.#flags[s] = flags;
  }

  get(id: string): BlobLocation | undefined {
    const s = this.#ids.find(id);
    return s < 0 ? undefined : this.#at(id, s);
  }

  /** The blob's plaintext length, without making a BlobLocation (restore planning asks it per chunk). */
  rawLength(id: string): number | undefined {
    const s = this.#ids.find(id);
    return s < 0 ? undefined : this.#raw[s];
  }

  *entries(): Generator<BlobLocation> {
    for (let s = 0; s < this.#ids.size; s++) yield this.#at(this.#ids.ids.hex(s), s);
  }

  packIds(): string[] {
    return [...this.#packs];
  }

  /** Forget everything (the index is about to be loaded again). */
  clear(): void {
    this.#ids.clear();
    this.#packs.length = 0;
    this.#packNo.clear();
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

/** Packs listed in one index file that prune or repair writes, at most. */
const INDEX_FILE_MAX_PACKS = 2000;

/**
 * `packs` cut into the groups that index files list: at most `maxPacks` packs and, unless a single pack has
 * more, `maxBlobs` blobs each (see defaults.indexMaxBlobs). Order is kept.
 */
export function indexFileGroups<P extends { blobs: readonly unknown[] }>(packs: readonly P[], maxPacks: number = INDEX_FILE_MAX_PACKS, maxBlobs: number = defaults.indexMaxBlobs): P[][] {
  const groups: P[][] = [];
  let cur: P[] = [];
  let blobs = 0;
  for (const p of packs) {
    if (cur.length > 0 && (cur.length >= maxPacks || blobs + p.blobs.length > maxBlobs)) {
      groups.push(cur);
      cur = [];
      blobs = 0;
    }
    cur.push(p);
    blobs += p.blobs.length;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
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
 * The packs of one index file, compact: what BlobIndex and check take in, and what a worker that decoded
 * the file hands back (its arrays are transferred, not copied). The blobs of all packs follow one another.
 */
export interface IndexedPacks {
  packs: string[];
  /** How many blobs each pack has, in the order of `packs`. */
  counts: Uint32Array;
  /** Blob ids, 8 words (32 bytes) each. */
  ids: Uint32Array;
  /** Per blob: offset, length, raw length, and flags (bit 0: a tree; the bits above: the compression). */
  nums: Uint32Array;
}

/**
 * The packs an index file describes. Its numbers are checked to be what the in-memory structures hold
 * (offsets and lengths below 4 GiB, a known type, ids of 64 hex digits): index files are authenticated, so
 * a value out of range means a writer's bug, and it is reported as a damaged index file rather than stored
 * truncated.
 */
export function indexedPacks(j: IndexFileJson, name = ''): IndexedPacks {
  const file = name ? `index file ${name}` : 'index file';
  if (!j || !Array.isArray(j.packs)) throw new IntegrityError(`${file} has no pack list`);
  let total = 0;
  for (const p of j.packs) {
    if (!p || typeof p.id !== 'string' || !Array.isArray(p.blobs)) throw new IntegrityError(`${file} has a malformed pack entry`);
    total += p.blobs.length;
  }
  const out: IndexedPacks = { packs: [], counts: new Uint32Array(j.packs.length), ids: new Uint32Array(total * 8), nums: new Uint32Array(total * 4) };
  const idBytes = Buffer.from(out.ids.buffer);
  let i = 0;
  j.packs.forEach((p, k) => {
    out.packs.push(p.id);
    out.counts[k] = p.blobs.length;
    for (const b of p.blobs) {
      if (!b || typeof b.id !== 'string' || !isBlobId(b.id) || (b.type !== 'data' && b.type !== 'tree') || !u32(b.offset) || !u32(b.length) || !u32(b.raw_length) || !(u32(b.compression) && b.compression < 128)) {
        throw new IntegrityError(`${file} has a malformed entry for pack ${String(p.id)}`);
      }
      idBytes.write(b.id, i * 32, 32, 'hex');
      const n = out.nums;
      n[i * 4] = b.offset;
      n[i * 4 + 1] = b.length;
      n[i * 4 + 2] = b.raw_length;
      n[i * 4 + 3] = blobFlags(b.type, b.compression);
      i++;
    }
  });
  return out;
}

/**
 * The binary form of an index file (docs/repository-format.md §9.1), what writers write: the magic, the
 * pack and blob counts, the pack names, each pack's blob count, the blob ids, then four u32 per blob. A
 * reader copies the last three sections into IndexedPacks as they are: no JSON objects, no hex decoding.
 * Measured (2026-11-30, the 100,000-file bench repository, 110,108 blobs in 5 files, one thread): the JSON
 * form took 230-290 ms to decode, this 12-28 ms, and is 17 % smaller (4.3 against 5.2 MB); JSON also made a
 * transient object per blob, 16,384 per file.
 */
const INDEX_MAGIC = Buffer.from('LBIX\x02\0\0\0', 'latin1');
const INDEX_HEAD = INDEX_MAGIC.length + 8;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Whether the (decompressed) contents of an index file are in the binary form. */
export function isBinaryIndex(plain: Uint8Array): boolean {
  return plain.length >= INDEX_MAGIC.length && INDEX_MAGIC.equals(plain.subarray(0, INDEX_MAGIC.length));
}

/** The binary form of an index file listing `packs` (every id 64 lower-case hex digits, numbers u32). */
export function encodeIndexFile(packs: ReadonlyArray<{ id: string; blobs: readonly PackedBlob[] }>): Buffer {
  let blobs = 0;
  for (const p of packs) blobs += p.blobs.length;
  const out = Buffer.alloc(INDEX_HEAD + packs.length * 36 + blobs * 48);
  INDEX_MAGIC.copy(out, 0);
  out.writeUInt32LE(packs.length, INDEX_MAGIC.length);
  out.writeUInt32LE(blobs, INDEX_MAGIC.length + 4);
  let names = INDEX_HEAD;
  let counts = names + packs.length * 32;
  let ids = counts + packs.length * 4;
  let nums = ids + blobs * 32;
  for (const p of packs) {
    if (!isBlobId(p.id)) throw new RangeError(`index: pack name ${p.id} is not 64 hex digits`);
    names += out.write(p.id, names, 32, 'hex');
    counts = out.writeUInt32LE(p.blobs.length, counts);
    for (const b of p.blobs) {
      if (!isBlobId(b.id)) throw new RangeError(`index: blob id ${b.id} is not 64 hex digits`);
      ids += out.write(b.id, ids, 32, 'hex');
      nums = out.writeUInt32LE(b.offset, nums);
      nums = out.writeUInt32LE(b.length, nums);
      nums = out.writeUInt32LE(b.rawLength, nums);
      nums = out.writeUInt32LE(blobFlags(b.type, b.compression), nums);
    }
  }
  return out;
}

/** The packs of an index file in the binary form (see encodeIndexFile); a damaged one is an IntegrityError. */
export function decodeIndexBytes(plain: Buffer, name = ''): IndexedPacks {
  const file = name ? `index file ${name}` : 'index file';
  if (!isBinaryIndex(plain) || plain.length < INDEX_HEAD) throw new IntegrityError(`${file} is not a binary index`);
  const packCount = plain.readUInt32LE(INDEX_MAGIC.length);
  const blobCount = plain.readUInt32LE(INDEX_MAGIC.length + 4);
  if (plain.length !== INDEX_HEAD + packCount * 36 + blobCount * 48) {
    throw new IntegrityError(`${file}: ${plain.length} bytes, but it declares ${packCount} packs and ${blobCount} blobs`);
  }
  const out: IndexedPacks = { packs: new Array<string>(packCount), counts: new Uint32Array(packCount), ids: new Uint32Array(blobCount * 8), nums: new Uint32Array(blobCount * 4) };
  let at = INDEX_HEAD;
  for (let k = 0; k < packCount; k++, at += 32) out.packs[k] = plain.toString('hex', at, at + 32);
  at = copyWords(plain, at, out.counts);
  let total = 0;
  for (let k = 0; k < packCount; k++) total += out.counts[k]!;
  if (total !== blobCount) throw new IntegrityError(`${file}: its packs hold ${total} blobs, but it declares ${blobCount}`);
  Buffer.from(out.ids.buffer).set(plain.subarray(at, at + blobCount * 32)); // bytes, as IdTable keeps them
  at = copyWords(plain, at + blobCount * 32, out.nums);
  for (let i = 3; i < out.nums.length; i += 4) {
    if (out.nums[i]! > 0xff) throw new IntegrityError(`${file} has a malformed entry (flags ${out.nums[i]!})`);
  }
  return out;
}

/** Fill `into` with the u32 LE words at plain[at..]; returns the offset after them. */
function copyWords(plain: Buffer, at: number, into: Uint32Array): number {
  const end = at + into.length * 4;
  if (LITTLE_ENDIAN) Buffer.from(into.buffer, into.byteOffset, into.byteLength).set(plain.subarray(at, end));
  else for (let i = 0; i < into.length; i++) into[i] = plain.readUInt32LE(at + i * 4);
  return end;
}

/** The buffers of an IndexedPacks, to transfer it between threads. */
export function indexedPacksTransfer(ip: IndexedPacks): ArrayBuffer[] {
  return [ip.counts.buffer, ip.ids.buffer, ip.nums.buffer] as ArrayBuffer[];
}

/** The packs of an index file as lists of PackedBlob (prune and repair work pack by pack). */
export function packsOf(ip: IndexedPacks): Array<{ id: string; blobs: PackedBlob[] }> {
  const idBytes = Buffer.from(ip.ids.buffer, ip.ids.byteOffset, ip.ids.byteLength);
  let i = 0;
  return ip.packs.map((id, k) => {
    const blobs: PackedBlob[] = [];
    for (const end = i + ip.counts[k]!; i < end; i++) blobs.push(packedBlob(idBytes.toString('hex', i * 32, i * 32 + 32), ip.nums, i));
    return { id, blobs };
  });
}

/** A blob's flags as index arrays and binary index files hold them: bit 0 a tree, the bits above its compression. */
function blobFlags(type: BlobType, compression: number): number {
  return (type === 'tree' ? 1 : 0) | (compression << 1);
}

/** The PackedBlob of blob i of nums (4 numbers a blob, as in IndexedPacks). */
export function packedBlob(id: string, nums: Uint32Array, i: number): PackedBlob {
  const f = nums[i * 4 + 3]!;
  return { id, type: f & 1 ? 'tree' : 'data', offset: nums[i * 4]!, length: nums[i * 4 + 1]!, rawLength: nums[i * 4 + 2]!, compression: f >> 1 };
}

function u32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;
}
