/**
 * Every tunable default in one place, each with the reason it has its value.
 * Where a value came from a measurement, the measurement is named (see bench/results/).
 */
export const defaults = {
  /**
   * FastCDC sizes: average 256 KiB, min 64 KiB, max 2 MiB. Measured with bench/chunk-sizes.ts on the 1 GiB
   * mixed bench corpus (v2) and a day's changes to it (bench/results/chunk-sizes.md): the incremental has to
   * store 253.0 MiB of new chunks at a 1 MiB average (restic's), 173.6 MiB at 512 KiB and 124.8 MiB at
   * 256 KiB, while the first backup is the same size (878-880 MiB) and chunking speed is ~1.5 GB/s per core
   * at every size. With 512 KiB, Lifeboat's compressed incremental was still 0.7 % above restic's in the
   * side-by-side bench; a whole backup of the corpus took the same time at 256 KiB (3.5 s vs 3.6-3.9 s).
   * The cost is index size: ~60 B of memory per chunk, so 1 TiB of large files (4M chunks) needs ~240 MiB
   * until the index moves to disk (docs/architecture.md, known limits).
   */
  chunkMin: 64 * 1024,
  chunkAvg: 256 * 1024,
  chunkMax: 2 * 1024 * 1024,

  /**
   * Target pack size. 16 MiB: large enough that a local or object-storage backend sees few, large,
   * sequential writes (one fsync per pack), small enough that a restore of one file reads little extra.
   */
  packSize: 16 * 1024 * 1024,

  /**
   * Packs being finished and committed at once while the next one fills. One: a local commit (fsync,
   * rename) of a 16 MiB pack takes far less than filling the next one. Packs are written out in 1 MiB pieces
   * as they fill (pack.ts), so a pack in flight no longer holds memory; a remote backend would want more.
   */
  packUploads: 1,

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
   * scrypt parameters for password keys: N=2^15, r=8, p=3, one of OWASP's equivalent-strength settings for
   * scrypt (with N=2^17, r=8, p=1), with a quarter of its memory: 32 MiB per lane, 0.18 s per lane here
   * (2026-11-30). N=2^17 needs 128 MiB, which alone put every command's peak memory above 180 MiB (bench,
   * 2026-11-26).
   * Stored per key file, so they can grow.
   */
  scryptN: 1 << 15,
  scryptR: 8,
  scryptP: 3,
  /**
   * Lanes of a `scrypt-lanes` key derivation computed at once (src/repo/kdf.ts): 2, one per core here.
   * N=2^15, r=8, p=3: 0.43 s as one scrypt, 0.31 s with 2 lanes at once (64 MiB for that time), 0.29 s with
   * 3 (96 MiB, which would lift a short command's peak memory by another 32 MiB for 20 ms less).
   */
  kdfLanesAtOnce: 2,

  /** Locks are refreshed every 5 minutes and considered stale after 30 minutes without refresh. */
  lockRefreshMs: 5 * 60 * 1000,
  lockStaleMs: 30 * 60 * 1000,

  /** Index files are written every this many packs, so an interrupted backup leaves re-usable data behind. */
  indexEveryPacks: 64,
  /**
   * ... and once this many blobs are unindexed; prune and repair split what they write the same way (a pack
   * with more blobs gets a file of its own). Index files are decoded in parallel (check decodes them in its
   * workers): the 100,000-file bench repository had all its 110,000 blobs in one 20 MiB JSON file, which
   * one thread took ~0.35 s to decode while the other waited.
   */
  indexMaxBlobs: 16384,

  /**
   * Restore reads each pack in ranges of at most 1 MiB (whole blobs; a larger blob is read alone), four in
   * flight (two per worker). Reading a pack's whole needed range at once held four ~16 MiB buffers plus the
   * ones workers had not yet freed: the full restore of the 1 GiB mixed bench corpus peaked at 429 MiB RSS,
   * 150 MiB of it in pack-sized buffers (bench, 2026-11-26/30). 4 MiB ranges still held ~30-40 MiB more
   * than 1 MiB ones (mixed full restore 240-250 -> 222 MiB, 100,000 tiny files 308-318 -> 268 MiB), for no
   * measurable time: each range is one pread and one message to a worker (2026-11-30).
   */
  restoreReadSize: 1024 * 1024,

  /**
   * check --read-data reads each pack in ranges of about this size (cut between blobs), hashes them on the
   * main thread in order and lets the workers verify the blobs of each range: instead of four whole 16 MiB
   * packs in flight and more waiting for collection (388 MiB peak RSS on the mixed bench repository,
   * bench 2026-11-26), at most four ranges. 1 MiB rather than 4 MiB: mixed bench repository 208-216 -> 159-172
   * MiB, 100,000 tiny files 228 -> 197 MiB, same time (2026-11-30).
   */
  checkReadSize: 1024 * 1024,

  /**
   * The largest config, key, index, snapshot or lock file read: far above any written (an index file of
   * 16,384 blobs is ~0.8 MiB), so a larger one is damage or planted, refused before it is read into memory.
   * A 2.1 GB file in index/ made every reading command fail with an internal error (hostile pass,
   * 2026-12-07).
   */
  documentMaxBytes: 256 * 1024 * 1024,
  /** The largest pack or archived WAL file read whole (packs are written at ~16 MiB, WAL segments at most 1 GiB). */
  wholeFileMaxBytes: 1024 * 1024 * 1024 + 64 * 1024,
} as const;
