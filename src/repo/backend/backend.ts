/**
 * The Backend: where repository files live.
 *
 * A backend stores whole, named, immutable-looking files in a handful of folders ("types"). It knows
 * nothing of encryption, packs or snapshots; the repository layer above gives it opaque bytes.
 *
 * Contract (checked for every implementation by test/repo/backend/conformance.ts):
 * - `save` is atomic and durable: when it resolves, the whole file is stored and survives a crash; a
 *   concurrent or later reader sees either no file or the complete file, never a prefix. Saving a name that
 *   exists replaces it atomically (only locks are ever rewritten; every other name is content-addressed or
 *   unique). A failed or aborted save leaves no file under the name.
 * - `load` returns exactly the bytes saved, or the requested range of them. A range that reaches past the
 *   end of the file is an error (the caller asked for bytes that are not there: truncation), not a short read.
 *   A missing file rejects with a `LifeboatError` whose code is `NOT_FOUND`.
 * - `list` yields every complete file of a type, each once, in no particular order; it never yields temp
 *   files of saves in progress. Files saved before `list` starts are listed.
 * - `reader` opens a file once for many ranged reads (restore and check read packs front to back in 1 MiB
 *   ranges); each `read` has the guarantees of a ranged `load`, of the file as it was when opened. A missing
 *   file rejects with `NOT_FOUND` when opening; a read after `close` rejects.
 * - `stat` gives the size of a complete file; `NOT_FOUND` if absent.
 * - `remove` deletes a file; removing a missing file rejects with `NOT_FOUND`.
 * - `writer` writes a file in pieces whose name is known only at the end (a pack is named by the hash of its
 *   bytes). Pieces land in the order `write` was called, even with several writes in flight; no write may
 *   start once `commit` has been called. Nothing is visible under any name before `commit`, which then has
 *   the guarantees of `save` (as with `save`, a failure after the file is in place, such as fsyncing its
 *   folder, is reported but not undone). A writer whose write failed or whose commit failed before that
 *   point leaves no file; an aborted one leaves none once its next write or commit rejects, or once it is
 *   discarded; `list` never shows a writer's file before its commit.
 * - `removeStale` removes what writes cut short by a crash left behind (a backend's temp files), if last
 *   written before `before`; complete files are never touched. Only for a caller holding the exclusive lock.
 * - Read-after-write: a file is visible to `load`, `stat` and `list` as soon as its `save` resolved.
 * - All methods may be called concurrently. Every method honours `signal` where given.
 * - Errors other than NOT_FOUND are `LifeboatError`s with code `BACKEND` (or `IO`), naming the file.
 */

/**
 * The folders of a repository. `config` has exactly one file, named `config`. `wal` holds archived
 * PostgreSQL write-ahead log files, one sealed file each (a folder that repositories made before it
 * existed may lack: it is made on the first save and lists as empty until then).
 */
export type FileType = 'config' | 'key' | 'snapshot' | 'index' | 'pack' | 'lock' | 'wal';

export const fileTypes: readonly FileType[] = ['config', 'key', 'snapshot', 'index', 'pack', 'lock', 'wal'];

export interface Handle {
  type: FileType;
  /** File name: lowercase hex for content-addressed files; `config` for the config. */
  name: string;
}

export interface FileInfo {
  name: string;
  size: number;
}

export interface OpOptions {
  signal?: AbortSignal;
}

export interface SaveOptions extends OpOptions {
  /**
   * false: the file need not survive a crash of this machine: it may then be missing, but never there with
   * other bytes (the local backend skips the folder's fsync after the rename). For the locks of commands
   * that only read: see Lock.acquire. Default true.
   */
  durable?: boolean;
}

export interface ReadOptions extends OpOptions {
  into?: Uint8Array;
}

export interface LoadOptions extends OpOptions {
  /** Byte offset to start reading at. Default 0. */
  offset?: number;
  /** Number of bytes to read. Default: to the end of the file. */
  length?: number;
  /**
   * A whole-file load (no `length`) of a file larger than this fails with CORRUPT before anything is read:
   * a planted or damaged file must not be read whole into memory.
   */
  maxSize?: number;
}

/** A file being written piece by piece (see Backend.writer). */
export interface FileWriter {
  /** Append `data` after every piece written before. `data` must stay unchanged until this resolves. */
  write(data: Uint8Array): Promise<void>;
  /** Store everything written as the file `name` (after every write has resolved). The writer is done. */
  commit(name: string): Promise<void>;
  /** Throw away everything written. Never rejects; does nothing after a commit or a second time. */
  discard(): Promise<void>;
}

/** An open file for ranged reads (see Backend.reader). */
export interface FileReader {
  /** The file's size when it was opened. */
  readonly size: number;
  /**
   * `length` bytes from `offset`; a range past the end is an error (truncation), as with `load`. With
   * `into` (at least `length` bytes), they are read into its start and a view of them is returned, so a
   * caller reading many ranges can reuse its buffers.
   */
  read(offset: number, length: number, opts?: ReadOptions): Promise<Buffer>;
  /** Release the file. Never rejects; does nothing the second time. */
  close(): Promise<void>;
}

export interface Backend {
  /** Human-readable location, for messages (a path or URL; never credentials). */
  readonly location: string;
  /** Create an empty repository layout. Rejects with code `REPO_EXISTS` if a config is already there. */
  create(opts?: OpOptions): Promise<void>;
  save(h: Handle, data: Uint8Array, opts?: SaveOptions): Promise<void>;
  load(h: Handle, opts?: LoadOptions): Promise<Buffer>;
  /** Open `h` for ranged reads: one open for many reads, where `load` opens the file for each. */
  reader(h: Handle, opts?: OpOptions): Promise<FileReader>;
  stat(h: Handle, opts?: OpOptions): Promise<FileInfo>;
  list(type: FileType, opts?: OpOptions): AsyncIterable<FileInfo>;
  remove(h: Handle, opts?: OpOptions): Promise<void>;
  /** Remove leftovers of interrupted writes last written before `before` (ms since the epoch); returns how many. */
  removeStale(before: number, opts?: OpOptions): Promise<number>;
  /** A writer for a new file of `type`; `signal` holds for all of its writes and its commit. */
  writer(type: Exclude<FileType, 'config'>, opts?: OpOptions): FileWriter;
  /** Release resources. The backend is not used after this. */
  close(): Promise<void>;
}
