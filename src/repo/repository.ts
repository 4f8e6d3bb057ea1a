/**
 * A Repository: an opened, unlocked store of recovery points on a Backend.
 *
 * It owns the master key, the config (chunker parameters) and the in-memory blob index, and offers the
 * primitives every higher layer uses: sealed JSON files (snapshots, locks), index files, blob reads that are
 * verified end to end (authentication tag, then the id recomputed from the plaintext), and a `BlobWriter`
 * for new data. It never interprets trees or snapshots; those live in tree.ts and snapshot.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { compareStrings, defaults, IntegrityError, LifeboatError, newScratch, systemClock, type Clock, type Scratch } from '../core/index.ts';
import type { Backend, FileType } from './backend/index.ts';
import { BlobIndex, decodeIndexBytes, encodeIndexFile, indexedPacks, isBinaryIndex, type BlobLocation, type IndexedPacks, type IndexFileJson } from './blob-index.ts';
import { Chunker, type ChunkerParams } from './chunker.ts';
import { Compression, compressBlob, decompressBlob } from './compress.ts';
import { compress as zstdCompress } from 'zstd-napi';
import { aad, blobId, newMasterKey, open, seal, type MasterKey } from './crypto.ts';
import { defaultKdf, type KdfParams } from './kdf.ts';
import { addKey, unlock, type KeyCache } from './keys.ts';
import { parseHeader, type BlobType, type PackedBlob } from './pack.ts';

export const REPO_VERSION = 1;

/** Whole tree packs kept in memory (each at most a pack size, 16 MiB): walks revisit the same few packs. */
const TREE_PACKS_CACHED = 4;

export interface RepoConfig {
  version: number;
  id: string;
  created: string;
  chunker: ChunkerParams & { seed: string };
  compression: 'zstd';
}

export interface InitOptions {
  kdf?: KdfParams;
  chunker?: ChunkerParams;
  clock?: Clock;
}

export interface OpenOptions {
  clock?: Clock;
  signal?: AbortSignal;
  /** Damage worked around while reading (a damaged index file skipped, say): told here, never thrown. */
  onWarning?: (message: string) => void;
  /**
   * Wrapping keys already derived from this password, kept by a long-running process that opens the same
   * repository for every job (the daemon): the key derivation is made to be slow, ~0.3 s of a core each time.
   */
  keyCache?: KeyCache;
}

export interface LoadIndexOptions {
  signal?: AbortSignal;
  /** Decode an index file's bytes (default: decodeIndexFile, on this thread). */
  decode?: (name: string, bytes: Buffer) => Promise<IndexedPacks> | IndexedPacks;
  /**
   * A damaged index file (INTEGRITY, CORRUPT; with anyError, any failure but ABORTED) is passed here and
   * skipped, and nothing else is done about it. Without onError, a damaged index file is skipped with a
   * warning (onWarning) and the packs it may have described are read from their headers instead.
   */
  onError?: (name: string, err: unknown) => void;
  anyError?: boolean;
  /** How many index files there are to load (for progress). */
  onListed?: (count: number) => void;
  /** Each index file as it is decoded (in any order; the index merges them in name order afterwards). */
  onLoaded?: (name: string, packs: IndexedPacks) => void;
}

export class Repository {
  readonly backend: Backend;
  readonly master: MasterKey;
  readonly config: RepoConfig;
  readonly keyId: string;
  readonly clock: Clock;
  readonly chunker: Chunker;
  readonly index = new BlobIndex();
  /** Index files merged into `index`. */
  readonly indexFiles = new Set<string>();
  /** Index files that could not be read (name → why), skipped. */
  readonly damagedIndexFiles = new Map<string, string>();
  /** Packs indexed in memory from their own headers, described by no readable index file. */
  readonly packsFromHeaders = new Set<string>();
  /** Where damage worked around while reading is reported. */
  onWarning: ((message: string) => void) | undefined;
  #headersRead = false;

  private constructor(backend: Backend, master: MasterKey, config: RepoConfig, keyId: string, clock: Clock, onWarning?: (message: string) => void) {
    this.backend = backend;
    this.master = master;
    this.config = config;
    this.keyId = keyId;
    this.clock = clock;
    this.chunker = new Chunker(Buffer.from(config.chunker.seed, 'hex'), config.chunker);
    this.onWarning = onWarning;
  }

  static async init(backend: Backend, password: string, opts: InitOptions = {}): Promise<Repository> {
    const clock = opts.clock ?? systemClock;
    await backend.create();
    const master = newMasterKey();
    const chunker = opts.chunker ?? { min: defaults.chunkMin, avg: defaults.chunkAvg, max: defaults.chunkMax };
    const config: RepoConfig = {
      version: REPO_VERSION,
      id: randomBytes(32).toString('hex'),
      created: new Date(clock.now()).toISOString(),
      chunker: { ...chunker, seed: randomBytes(32).toString('hex') },
      compression: 'zstd',
    };
    // The config is written last: a repository without a config is not a repository, so a crash during
    // init leaves something `init` can be run again on.
    // Key files without a config are left by an init that crashed: they wrap a master key nothing uses.
    for await (const k of backend.list('key')) await backend.remove({ type: 'key', name: k.name });
    const keyId = await addKey(backend, master, password, opts.kdf ?? defaultKdf, new Date(clock.now()));
    await backend.save({ type: 'config', name: 'config' }, seal(master, Buffer.from(JSON.stringify(config)), aad('config')));
    return new Repository(backend, master, config, keyId, clock);
  }

  /**
   * A replica of `source` on `backend` (a hot site's journal): the same master key (its key files, copied
   * as they are, so the same passwords open it) and the same config (so chunk ids and boundaries are the
   * same, and chunks move between the two without being decrypted). Idempotent: a replica of the same
   * repository is opened as it is; anything else already there is refused.
   */
  static async initReplica(backend: Backend, source: Repository, opts: { clock?: Clock; signal?: AbortSignal } = {}): Promise<Repository> {
    const sig = opts.signal ? { signal: opts.signal } : {};
    const config = await source.backend.load({ type: 'config', name: 'config' }, { maxSize: defaults.documentMaxBytes, ...sig });
    let existing: Buffer | undefined;
    try {
      existing = await backend.load({ type: 'config', name: 'config' }, { maxSize: defaults.documentMaxBytes, ...sig });
    } catch (err) {
      if (!(err instanceof LifeboatError && err.code === 'NOT_FOUND')) throw err;
    }
    if (existing && !existing.equals(config)) {
      throw new LifeboatError('REPO_EXISTS', `${backend.location} holds another repository, not a replica of ${source.backend.location}`, {
        hint: 'a journal belongs to one group\'s repository; give this one its own path (or move the old one aside)',
      });
    }
    if (!existing) {
      await backend.create(sig).catch((err: unknown) => {
        if (!(err instanceof LifeboatError && err.code === 'REPO_EXISTS')) throw err;
      });
      for await (const k of source.backend.list('key', sig)) {
        await backend.save({ type: 'key', name: k.name }, await source.backend.load({ type: 'key', name: k.name }, { maxSize: defaults.documentMaxBytes, ...sig }), sig);
      }
      // Last, as in init: a layout without a config is not a repository yet.
      await backend.save({ type: 'config', name: 'config' }, config, sig);
    }
    return new Repository(backend, source.master, source.config, source.keyId, opts.clock ?? source.clock, source.onWarning);
  }

  static async open(backend: Backend, password: string, opts: OpenOptions = {}): Promise<Repository> {
    let configBytes: Buffer;
    try {
      configBytes = await backend.load({ type: 'config', name: 'config' }, { maxSize: defaults.documentMaxBytes, ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      if (err instanceof LifeboatError && err.code === 'NOT_FOUND') {
        throw new LifeboatError('REPO_NOT_FOUND', `no Lifeboat repository at ${backend.location}`, {
          hint: 'check --repo / LIFEBOAT_REPOSITORY, or create one with `lifeboat init`',
          cause: err,
        });
      }
      throw err;
    }
    const { master, keyId } = await unlock(backend, password, opts.keyCache);
    let config: RepoConfig;
    try {
      config = JSON.parse(open(master, configBytes, 'config', aad('config')).toString('utf8')) as RepoConfig;
    } catch (cause) {
      // Written once, at init, and never changed: any copy of it is as good as the original.
      throw new IntegrityError(`the repository's config file is damaged and cannot be read (${(cause as Error).message})`, {
        cause,
        hint: 'the config holds the format version and the chunker secret; put `config` back from any copy of this repository (it never changes)',
      });
    }
    if (config.version !== REPO_VERSION) {
      throw new LifeboatError('REPO_VERSION', `repository format version ${config.version} is not supported (this Lifeboat reads ${REPO_VERSION})`, {
        hint: 'upgrade Lifeboat',
      });
    }
    return new Repository(backend, master, config, keyId, opts.clock ?? systemClock, opts.onWarning);
  }

  /** Add a password (a new key file wrapping the same master key). */
  async addPassword(password: string, kdf: KdfParams = defaultKdf): Promise<string> {
    return addKey(this.backend, this.master, password, kdf, new Date(this.clock.now()));
  }

  // ---- sealed JSON files: snapshots, index files, locks ----

  /** Seal and store a JSON document; its name is the SHA-256 of the stored bytes. */
  async saveJson(type: Exclude<FileType, 'pack' | 'config' | 'key'>, value: unknown, opts: { signal?: AbortSignal; name?: string; durable?: boolean } = {}): Promise<string> {
    return this.#saveSealed(type, seal(this.master, encodeDocument(value), aad(type)), opts);
  }

  /** Write an index file listing `packs` (binary form); returns its name. */
  async saveIndexFile(packs: ReadonlyArray<{ id: string; blobs: readonly PackedBlob[] }>, opts: { signal?: AbortSignal } = {}): Promise<string> {
    return this.#saveSealed('index', sealIndexFile(this.master, packs), opts);
  }

  /** Store sealed bytes under `opts.name`, or content-addressed (the SHA-256 of the bytes); returns the name. */
  async #saveSealed(type: JsonFileType, bytes: Buffer, opts: { signal?: AbortSignal; name?: string; durable?: boolean }): Promise<string> {
    const name = opts.name ?? createHash('sha256').update(bytes).digest('hex');
    await this.backend.save({ type, name }, bytes, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.durable === false ? { durable: false } : {}) });
    return name;
  }

  /** One index file's packs, verified (see decodeIndexFile). */
  async loadIndexFile(name: string, opts: { signal?: AbortSignal } = {}): Promise<IndexedPacks> {
    return decodeIndexFile(this.master, name, await this.backend.load({ type: 'index', name }, { maxSize: defaults.documentMaxBytes, ...(opts.signal ? { signal: opts.signal } : {}) }));
  }

  async loadJson<T>(type: JsonFileType, name: string, opts: { signal?: AbortSignal; contentAddressed?: boolean } = {}): Promise<T> {
    const bytes = await this.backend.load({ type, name }, { maxSize: defaults.documentMaxBytes, ...(opts.signal ? { signal: opts.signal } : {}) });
    return decodeJsonFile<T>(this.master, type, name, bytes, opts.contentAddressed !== false);
  }

  // ---- named objects: archived WAL files, stored whole, compressed and sealed ----

  /**
   * Store `raw` under `name`: [compression u8][raw length u64 LE][SHA-256 of raw][payload], sealed with the
   * type and name as additional data. The checksum catches a bug or a bad decompressor; the seal catches
   * tampering, truncation and a file renamed into another's place.
   */
  async saveNamed(type: 'wal', name: string, raw: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const c = compressBlob(raw, 3);
    const head = Buffer.alloc(41);
    head[0] = c.compression;
    head.writeBigUInt64LE(BigInt(raw.length), 1);
    createHash('sha256').update(raw).digest().copy(head, 9);
    const bytes = seal(this.master, Buffer.concat([head, c.data]), aad(type, name));
    await this.backend.save({ type, name }, bytes, opts.signal ? { signal: opts.signal } : {});
  }

  async loadNamed(type: 'wal', name: string, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    const what = `${type} ${name}`;
    const plain = open(this.master, await this.backend.load({ type, name }, { maxSize: defaults.wholeFileMaxBytes, ...(opts.signal ? { signal: opts.signal } : {}) }), what, aad(type, name));
    if (plain.length < 41) throw new IntegrityError(`${what}: too short`);
    const rawLength = Number(plain.readBigUInt64LE(1));
    const raw = decompressBlob(plain.subarray(41), plain[0]!, rawLength, what);
    if (!createHash('sha256').update(raw).digest().equals(plain.subarray(9, 41))) {
      throw new IntegrityError(`${what}: checksum mismatch after decompression`);
    }
    return raw;
  }

  async listNames(type: FileType, signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    for await (const f of this.backend.list(type, signal ? { signal } : {})) out.push(f.name);
    return out.sort();
  }

  // ---- index ----

  /**
   * Load every index file not yet loaded. Safe to call again to pick up files written since. `decode` turns
   * a file's bytes into its packs: by default decodeIndexFile on this thread; a caller with worker threads
   * can decode there (check does), which keeps each file's JSON objects out of this thread's heap.
   */
  async loadIndex(opts: LoadIndexOptions = {}): Promise<void> {
    const names = (await this.listNames('index', opts.signal)).filter((n) => !this.indexFiles.has(n) && !this.damagedIndexFiles.has(n));
    opts.onListed?.(names.length);
    const decode = opts.decode ?? ((name: string, bytes: Buffer) => decodeIndexFile(this.master, name, bytes));
    const loaded: Array<IndexedPacks | undefined> = new Array(names.length);
    let damaged = 0;
    await mapLimit(names, 8, async (name, i) => {
      let packs: IndexedPacks;
      try {
        packs = await decode(name, await this.backend.load({ type: 'index', name }, { maxSize: defaults.documentMaxBytes, ...(opts.signal ? { signal: opts.signal } : {}) }));
      } catch (err) {
        const isDamage = err instanceof LifeboatError && (err.code === 'INTEGRITY' || err.code === 'CORRUPT');
        if (opts.onError && !(err instanceof LifeboatError && err.code === 'ABORTED') && (opts.anyError || isDamage)) {
          opts.onError(name, err);
          return;
        }
        if (!opts.onError && isDamage) {
          this.damagedIndexFiles.set(name, err.message);
          this.onWarning?.(`index file ${name.slice(0, 8)} is damaged (${err.message.replace(`index ${name}: `, '')}): the packs it described are read from their own headers; \`lifeboat repair index\` rewrites it`);
          damaged++;
          return;
        }
        throw err;
      }
      loaded[i] = packs;
      opts.onLoaded?.(name, packs);
    });
    // Merged in name order, so which copy of a blob stored twice is used does not depend on timing.
    names.forEach((name, i) => {
      const packs = loaded[i];
      if (!packs) return;
      this.index.addIndexed(packs);
      this.indexFiles.add(name);
    });
    if (damaged > 0) await this.indexUnindexedPacks(opts.signal ? { signal: opts.signal } : {});
  }

  /**
   * Index in memory, from their own headers, the packs no loaded index file describes: what a damaged or
   * lost index file described, and what an interrupted backup stored. Their blobs are intact data (each is
   * verified when read), so readers use them rather than fail. Done once per Repository; returns how many
   * packs were added. Nothing is written: `adoptPacks` and `rebuildIndex` do that.
   */
  async indexUnindexedPacks(opts: { signal?: AbortSignal } = {}): Promise<number> {
    if (this.#headersRead) return 0;
    this.#headersRead = true;
    const packs: Array<{ name: string; size: number }> = [];
    for await (const f of this.backend.list('pack', opts)) if (!this.index.hasPack(f.name)) packs.push(f);
    const found = await readPackHeaders(this, packs, opts.signal);
    for (const p of found.found) {
      this.index.addPack(p.id, p.blobs);
      this.packsFromHeaders.add(p.id);
    }
    if (found.found.length > 0 && this.damagedIndexFiles.size === 0) {
      this.onWarning?.(`${found.found.length} pack(s) that no index file describes were read from their own headers; \`lifeboat repair index\` indexes them`);
    }
    return found.found.length;
  }

  /** A pack's header: the blobs it holds (one ranged read of its tail, a second if the header is larger than guessed). */
  async readPackHeader(pack: string, size: number, signal?: AbortSignal): Promise<PackedBlob[]> {
    let want = Math.min(size, 64 * 1024);
    for (;;) {
      const tail = await this.backend.load({ type: 'pack', name: pack }, { offset: size - want, length: want, ...(signal ? { signal } : {}) });
      const r = parseHeader(this.master, tail, size, pack);
      if (Array.isArray(r)) return r;
      want = r.need;
    }
  }

  /**
   * Make sure the index loaded is the current one, when it was loaded before a lock was held (restore loads
   * it while its lock is being written). Index files are content-addressed and never rewritten, so the
   * names tell: new ones (a backup meanwhile) are loaded; if one that was loaded is gone, a prune replaced
   * it, and the whole index is loaded again (nothing else may be using this Repository's index meanwhile).
   */
  async refreshIndex(opts: LoadIndexOptions = {}): Promise<void> {
    const names = new Set(await this.listNames('index', opts.signal));
    if ([...this.indexFiles].some((n) => !names.has(n))) this.resetIndex();
    await this.loadIndex(opts);
  }

  /** Forget the index loaded so far (the next loadIndex reads every index file again). */
  resetIndex(): void {
    this.index.clear();
    this.indexFiles.clear();
    this.damagedIndexFiles.clear();
    this.packsFromHeaders.clear();
    this.#headersRead = false;
  }

  // ---- blobs ----

  blobId(data: Uint8Array, type: BlobType = 'data'): string {
    return blobId(this.master, data, type);
  }

  /** Read one blob, verified: authentication, decompression, and the id recomputed from the plaintext. */
  async loadBlob(type: BlobType, id: string, signal?: AbortSignal): Promise<Buffer> {
    let loc = this.index.get(id);
    // Not in any index file: perhaps in a pack whose index file is lost.
    if (!loc && (await this.indexUnindexedPacks(signal ? { signal } : {})) > 0) loc = this.index.get(id);
    if (!loc || loc.type !== type) {
      throw new IntegrityError(`${type} blob ${id} is not in the index`, {
        hint: 'run `lifeboat check` to find damaged snapshots; the blob may have been removed by a prune or lost with a pack',
      });
    }
    try {
      if (type === 'tree') {
        // Trees are read in bursts (walks, plans, diffs) and packed together: read their whole pack once.
        const pack = await this.#treePack(loc.pack, signal);
        if (loc.offset + loc.length > pack.length) throw new IntegrityError(`pack ${loc.pack} is truncated: ${pack.length} bytes, ${type} blob ${id} ends at ${loc.offset + loc.length}`);
        return this.decodeBlob(loc, pack.subarray(loc.offset, loc.offset + loc.length));
      }
      const sealed = await this.backend.load({ type: 'pack', name: loc.pack }, { offset: loc.offset, length: loc.length, ...(signal ? { signal } : {}) });
      return this.decodeBlob(loc, sealed);
    } catch (err) {
      // A pack the index names is gone: damage, as much as a changed byte is.
      if (err instanceof LifeboatError && err.code === 'NOT_FOUND') {
        throw new IntegrityError(`pack ${loc.pack} holding ${type} blob ${id} is missing`, {
          cause: err,
          hint: 'run `lifeboat check` to see what it affects, then `lifeboat repair index` and `lifeboat repair snapshots`',
        });
      }
      throw err;
    }
  }

  /** A small LRU of whole tree packs (at most TREE_PACKS_CACHED). Concurrent requests share one read. */
  readonly #treePacks = new Map<string, Promise<Buffer>>();

  #treePack(pack: string, signal?: AbortSignal): Promise<Buffer> {
    let p = this.#treePacks.get(pack);
    if (p) {
      this.#treePacks.delete(pack);
      this.#treePacks.set(pack, p);
      return p;
    }
    p = this.backend.load({ type: 'pack', name: pack }, { maxSize: defaults.wholeFileMaxBytes, ...(signal ? { signal } : {}) });
    p.catch(() => this.#treePacks.delete(pack));
    this.#treePacks.set(pack, p);
    if (this.#treePacks.size > TREE_PACKS_CACHED) this.#treePacks.delete(this.#treePacks.keys().next().value!);
    return p;
  }

  /** Decrypt, decompress and verify a blob's stored bytes. */
  decodeBlob(loc: BlobLocation, sealed: Buffer): Buffer {
    return decodeBlob(this.master, loc, loc.pack, sealed);
  }
}

/**
 * Documents (snapshots, index files, locks) are compact JSON, zstd-compressed when that makes them smaller
 * (index files shrink ~3x: the tiny-files bench repository's index went from 16.8 MiB). The plaintext is
 * self-describing: a zstd frame starts with 0x28 B5 2F FD, JSON with `{`.
 */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** No document is near this size; a frame claiming more is damage, refused before allocating. */
const MAX_DOCUMENT = 1 << 30;

export function encodeDocument(value: unknown): Buffer {
  return packDocument(Buffer.from(JSON.stringify(value)));
}

/** A document's stored form: compressed (a zstd frame) when that is smaller. */
function packDocument(raw: Buffer): Buffer {
  if (raw.length < 256) return raw;
  const z = zstdCompress(raw, { compressionLevel: 3 });
  return z.length < raw.length ? z : raw;
}

/** A document's contents from its stored form (see packDocument). */
function unpackDocument(plain: Buffer, what: string): Buffer {
  if (plain.length >= 4 && plain.subarray(0, 4).equals(ZSTD_MAGIC)) return decompressBlob(plain, Compression.Zstd, -1, what, MAX_DOCUMENT);
  return plain;
}

export type JsonFileType = Exclude<FileType, 'pack' | 'config' | 'key'>;

/** A sealed JSON file's contents (see loadJson). Pure and synchronous: worker threads use it too. */
export function decodeJsonFile<T>(master: MasterKey, type: JsonFileType, name: string, bytes: Buffer, contentAddressed = true): T {
  if (contentAddressed) checkAddressed(type, name, bytes);
  return decodeDocument<T>(open(master, bytes, `${type} ${name}`, aad(type)), `${type} ${name}`);
}

/** A content-addressed file's name is the SHA-256 of its bytes. */
function checkAddressed(type: JsonFileType, name: string, bytes: Buffer): void {
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sum !== name) throw new IntegrityError(`${type} ${name}: contents do not match the name (damaged or truncated file)`);
}

/** The sealed bytes of an index file listing `packs`, in the binary form (docs/repository-format.md §9.1). */
export function sealIndexFile(master: MasterKey, packs: ReadonlyArray<{ id: string; blobs: readonly PackedBlob[] }>): Buffer {
  return seal(master, packDocument(encodeIndexFile(packs)), aad('index'));
}

/** An index file's packs, from its sealed bytes: the binary form, or JSON as older writers wrote it. */
export function decodeIndexFile(master: MasterKey, name: string, bytes: Buffer): IndexedPacks {
  checkAddressed('index', name, bytes);
  const what = `index ${name}`;
  const plain = unpackDocument(open(master, bytes, what, aad('index')), what);
  return isBinaryIndex(plain) ? decodeIndexBytes(plain, name) : indexedPacks(parseJson<IndexFileJson>(plain, what), name);
}

export function decodeDocument<T>(plain: Buffer, what: string): T {
  return parseJson<T>(unpackDocument(plain, what), what);
}

function parseJson<T>(text: Buffer, what: string): T {
  try {
    return JSON.parse(text.toString('utf8')) as T;
  } catch (cause) {
    throw new IntegrityError(`${what}: not valid JSON`, { cause });
  }
}

/** Reusable buffers of one thread for decodeBlob: the decrypted blob, and its decompressed plaintext. */
export interface BlobScratch {
  opened: Scratch;
  plain: Scratch;
}

export function newBlobScratch(): BlobScratch {
  return { opened: newScratch(), plain: newScratch() };
}

/**
 * Decrypt, decompress and verify one blob: the authentication tag, the raw length, and the id recomputed
 * from the plaintext. A free function so worker threads (which hold the key, not a Repository) use it too.
 * With `scratch` (kept by the caller), the result may be a view into it, valid only until its next use.
 */
export function decodeBlob(master: MasterKey, blob: PackedBlob, pack: string, sealed: Buffer, scratch?: BlobScratch): Buffer {
  const what = (): string => `${blob.type} blob ${blob.id} in pack ${pack}`;
  const opened = open(master, sealed, what, BLOB_AAD, scratch?.opened);
  const plain = decompressBlob(opened, blob.compression, blob.rawLength, what, blob.rawLength, scratch?.plain);
  if (blobId(master, plain, blob.type) !== blob.id) throw new IntegrityError(`${what()}: contents do not match the id`);
  return plain;
}

const BLOB_AAD = aad('blob');

/** Headers of many packs, four at a time; packs whose header cannot be read are returned as damaged. */
export async function readPackHeaders(
  repo: Repository,
  packs: ReadonlyArray<{ name: string; size: number }>,
  signal?: AbortSignal,
): Promise<{ found: Array<{ id: string; blobs: PackedBlob[] }>; damaged: Array<{ name: string; reason: string }> }> {
  const found: Array<{ id: string; blobs: PackedBlob[] }> = [];
  const damaged: Array<{ name: string; reason: string }> = [];
  await mapLimit(packs, 4, async (f) => {
    try {
      found.push({ id: f.name, blobs: await repo.readPackHeader(f.name, f.size, signal) });
    } catch (err) {
      if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
      damaged.push({ name: f.name, reason: (err as Error).message });
    }
  });
  found.sort((a, b) => compareStrings(a.id, b.id));
  damaged.sort((a, b) => compareStrings(a.name, b.name));
  return { found, damaged };
}

/** Run `fn` over `items` with at most `limit` running at once; rejects on the first failure. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
