/**
 * BlobWriter: the write side of a repository. Collects sealed blobs into packs, saves each full pack,
 * and records saved packs in index files.
 *
 * Dedup runs through `reserve(id)`: it answers "store it" exactly once per id that is neither in the index
 * nor already on its way, so concurrent producers (worker threads) never store a blob twice. A blob is
 * added to the in-memory index only once its pack is durably saved; an index file follows every
 * `indexEveryPacks` packs or `defaults.indexMaxBlobs` blobs, and at `flush()`. A crash therefore loses at
 * most the unindexed packs' reuse, never correctness: every index entry points into a complete pack.
 */
import { defaults, LifeboatError } from '../core/index.ts';
import { compressBlob } from './compress.ts';
import { aad, seal } from './crypto.ts';
import { PackBuilder, type BlobType, type PackedBlob } from './pack.ts';
import type { Repository } from './repository.ts';

export interface WriterStats {
  blobsAdded: number;
  /** Plaintext bytes of new blobs. */
  rawAdded: number;
  /** Bytes written to the backend for packs (after compression and encryption). */
  packBytes: number;
  packs: number;
}

export interface BlobWriterOptions {
  packSize?: number;
  /** Packs being finished and committed at once while the next fills (default: defaults.packUploads). */
  uploads?: number;
  indexEveryPacks?: number;
  /** Write index files (default). Prune writes its own complete index from `saved` instead. */
  writeIndex?: boolean;
  signal?: AbortSignal;
}

export class BlobWriter {
  readonly #repo: Repository;
  readonly #packSize: number;
  readonly #uploads: number;
  readonly #indexEvery: number;
  readonly #signal: AbortSignal | undefined;
  readonly #writeIndex: boolean;
  /**
   * Every pack this writer saved, in order, when it writes no index files (prune writes its own index from
   * these). A backup does not keep them: ~100 bytes a blob for as long as the backup runs.
   */
  readonly saved: Array<{ id: string; blobs: PackedBlob[] }> = [];
  readonly #pending = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Full packs waiting for the previous one's commit before they are finished. */
  readonly #waiting = new Set<PackBuilder>();
  #builders: Record<BlobType, PackBuilder>;
  #unindexed: Array<{ id: string; blobs: PackedBlob[] }> = [];
  #unindexedBlobs = 0;
  #failed: unknown;
  readonly stats: WriterStats = { blobsAdded: 0, rawAdded: 0, packBytes: 0, packs: 0 };

  constructor(repo: Repository, opts: BlobWriterOptions = {}) {
    this.#repo = repo;
    this.#packSize = opts.packSize ?? defaults.packSize;
    this.#uploads = opts.uploads ?? defaults.packUploads;
    this.#indexEvery = opts.indexEveryPacks ?? defaults.indexEveryPacks;
    this.#signal = opts.signal;
    this.#writeIndex = opts.writeIndex ?? true;
    this.#builders = { data: this.#newBuilder(), tree: this.#newBuilder() };
  }

  /** A pack builder writing into a new file of the backend (see PackBuilder). */
  #newBuilder(): PackBuilder {
    return new PackBuilder(this.#repo.backend.writer('pack', this.#signal ? { signal: this.#signal } : {}));
  }

  /** Whether the caller must supply blob `id`. True at most once per id; the caller must then `add` it. */
  reserve(id: string): boolean {
    if (this.#repo.index.has(id) || this.#pending.has(id)) return false;
    this.#pending.add(id);
    return true;
  }

  /** Known to the repository or on its way. */
  known(id: string): boolean {
    return this.#repo.index.has(id) || this.#pending.has(id);
  }

  /** Add a sealed blob that `reserve` granted (copied: `sealed` may be reused once this resolves; it waits only when the disk falls behind or a pack is being committed). */
  async add(type: BlobType, id: string, sealed: Uint8Array, rawLength: number, compression: number): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    const b = this.#builders[type];
    b.add(type, id, sealed, rawLength, compression);
    this.stats.blobsAdded++;
    this.stats.rawAdded += rawLength;
    if (b.finishedSize >= this.#packSize) {
      await this.#savePack(type);
      return;
    }
    const waiting = b.settle(); // undefined, mostly: the disk keeps up
    if (waiting) await waiting;
  }

  /** Compress, seal and store a blob made on this thread (trees, small data). Returns its id. */
  async store(type: BlobType, plain: Uint8Array): Promise<string> {
    const id = this.#repo.blobId(plain, type);
    if (this.reserve(id)) {
      const c = compressBlob(plain);
      await this.add(type, id, seal(this.#repo.master, c.data, aad('blob')), plain.length, c.compression);
    }
    return id;
  }

  async #savePack(type: BlobType): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed;
    const builder = this.#builders[type];
    if (builder.count === 0) return;
    this.#builders[type] = this.#newBuilder();
    this.#waiting.add(builder);
    try {
      while (this.#inFlight.size >= this.#uploads) await Promise.race(this.#inFlight);
    } finally {
      this.#waiting.delete(builder);
    }
    if (this.#failed !== undefined) {
      await builder.out.discard();
      throw this.#failed;
    }
    const p = builder
      .finish(this.#repo.master)
      .then(async ({ id, size, blobs }) => {
        await builder.out.commit(id);
        this.#repo.index.addPack(id, blobs);
        for (const b of blobs) this.#pending.delete(b.id);
        this.stats.packBytes += size;
        this.stats.packs++;
        if (!this.#writeIndex) {
          this.saved.push({ id, blobs });
          return;
        }
        this.#unindexed.push({ id, blobs });
        this.#unindexedBlobs += blobs.length;
        if (this.#unindexed.length >= this.#indexEvery || this.#unindexedBlobs >= defaults.indexMaxBlobs) await this.#saveIndex();
      })
      .catch(async (err: unknown) => {
        this.#failed ??= err;
        await builder.out.discard();
      })
      .finally(() => {
        this.#inFlight.delete(p);
      });
    this.#inFlight.add(p);
  }

  async #saveIndex(): Promise<void> {
    if (this.#unindexed.length === 0) return;
    const packs = this.#unindexed;
    this.#unindexed = [];
    this.#unindexedBlobs = 0;
    const name = await this.#repo.saveIndexFile(packs, this.#signal ? { signal: this.#signal } : {});
    this.#repo.indexFiles.add(name);
  }

  /**
   * After a failure (the caller will not `flush`): wait for the packs being committed and remove the files
   * of the packs being built, so a failed or interrupted backup leaves no temp files behind.
   */
  async discard(): Promise<void> {
    // From now on `add` rejects: producers still delivering (the main thread's handlers of the workers'
    // last messages) cannot open new packs after this.
    this.#failed ??= new LifeboatError('ABORTED', 'the blob writer was discarded: the backup stopped');
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
    const open = [this.#builders.data, this.#builders.tree, ...this.#waiting];
    await Promise.all(open.map((b) => b.out.discard()));
  }

  /** Save every partial pack and write the index. After this, every added blob is durable and indexed. */
  async flush(): Promise<void> {
    await this.#savePack('data');
    await this.#savePack('tree');
    while (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
    if (this.#failed !== undefined) throw this.#failed;
    await this.#saveIndex();
    if (this.#pending.size > 0) {
      throw new LifeboatError('INTERNAL', `${this.#pending.size} reserved blobs were never added`);
    }
  }
}
