/**
 * Every tunable default in one place, each with the reason it has its value.
 * Where a value came from a measurement, the measurement is named (see bench/results/).
 */
export const defaults = {
  /**
   * FastCDC sizes. Average 1 MiB (min 256 KiB, max 8 MiB): with the per-repository keyed gear table,
   * 1 MiB keeps the index small (a 1 TiB repository is ~1M chunks) while an insertion near the start of a
   * large file re-stores only ~1-2 MiB around the edit (test/repo/chunker.test.ts shows it). restic uses the
   * same average; borg uses 2 MiB. Smaller averages dedup slightly better at the cost of index size.
   * bench/chunk-sizes.ts measures the trade-off on the bench corpus.
   */
  chunkMin: 256 * 1024,
  chunkAvg: 1024 * 1024,
  chunkMax: 8 * 1024 * 1024,

  /**
   * Target pack size. 16 MiB: large enough that a local or object-storage backend sees few, large,
   * sequential writes (one fsync per pack), small enough that a restore of one file reads little extra.
   */
  packSize: 16 * 1024 * 1024,

  /**
   * zstd level 3 (zstd's own default): on this machine ~390 MB/s compress per core on mixed text with
   * 31 % output (shared/stack.md). Level 1 is faster but stores more; the bench decides if it should change.
   */
  zstdLevel: 3,

  /**
   * Incompressible-data detection: compress a sample of this many bytes first; if it does not shrink to
   * below `incompressibleRatio`, store the whole blob raw. Saves the full compression pass on media files.
   */
  compressSample: 64 * 1024,
  incompressibleRatio: 0.97,

  /**
   * scrypt parameters for password keys. N=2^17, r=8, p=1 costs ~0.3 s and 128 MiB here: the OWASP
   * recommendation for scrypt and the cost restic calibrates to. Stored per key file, so they can grow.
   */
  scryptN: 1 << 17,
  scryptR: 8,
  scryptP: 1,

  /** Locks are refreshed every 5 minutes and considered stale after 30 minutes without refresh. */
  lockRefreshMs: 5 * 60 * 1000,
  lockStaleMs: 30 * 60 * 1000,

  /** Index files are written every this many packs, so an interrupted backup leaves re-usable data behind. */
  indexEveryPacks: 64,

  /** Restore: files written concurrently. */
  restoreConcurrency: 8,

  /** Read size for files being backed up. */
  readBufferSize: 8 * 1024 * 1024,
} as const;
