/**
 * The CPU-heavy half of a file backup: read files, cut them into chunks, name each chunk (keyed hash),
 * and compress and seal the chunks the repository does not have yet.
 *
 * It runs inside worker threads (worker.ts) so both cores work, or inline on the calling thread. Dedup is
 * decided by the caller through `ask`: a batch of chunk ids goes out, a "store these" answer comes back, and
 * only those are compressed and sealed. Files are read with synchronous calls: inside a worker that costs
 * nothing and saves the thread-pool hop per read, which dominates for small files.
 */
import { closeSync, fstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { fsPath, nativeFs, newScratch } from '../../core/index.ts';
import { aad, blobId, Chunker, compressBlob, seal, SEAL_OVERHEAD, type ChunkerParams, type MasterKey } from '../../repo/index.ts';

export interface WorkKeys {
  master: { encryption: Uint8Array; mac: Uint8Array };
  chunker: ChunkerParams & { seed: string };
  level: number;
}

export interface FileJob {
  path: string;
  /** From the walk's lstat: the file is reported as changed if it differs after reading. */
  size: number;
  /** st_mtime in nanoseconds, as a decimal string (bigint does not cross every message channel). */
  mtimeNs: string;
  ino: number;
  /**
   * A segment of a large file: read from `offset`, `length` bytes (to the end when absent). The archiver
   * splits large files so both workers share them; the segment's own size checks are then the caller's.
   */
  offset?: number;
  length?: number;
}

export interface FileResult {
  content: string[];
  size: number;
  /** Set when the file could not be read at all (it is then left out of the snapshot). */
  error?: string;
  errorCode?: string;
  /** Set when the file changed while it was read (its content is what was read). */
  changed?: boolean;
}

/** A sealed blob at `offset`, `length` bytes, in the buffer of an `emit`. */
export interface SealedBlob {
  id: string;
  offset: number;
  length: number;
  rawLength: number;
  compression: number;
}

export interface WorkEnv {
  ask(ids: string[]): Promise<boolean[]>;
  /**
   * Hand over sealed blobs, all in `buf`. Resolves once they are accepted, with a buffer to reuse for the
   * next batch (the same one, handed back by the main thread), if any.
   */
  emit(buf: Buffer, blobs: SealedBlob[]): Promise<Buffer | undefined>;
}

const BLOB_AAD = aad('blob');

/** Flush pending chunks (ask + seal + emit) once this many plaintext bytes are waiting. */
const FLUSH_BYTES = 4 * 1024 * 1024;
/**
 * Arena: a max chunk (2 MiB) of carry-over plus 6 MiB to read into. Every page of it stays resident once a
 * large file has filled it: 16 MiB (with 8 MiB flushes) cost 8 MiB more per worker for no measurable speed
 * (1 GiB mixed bench corpus, first backup, three runs each, 2026-11-30: 10.8 s either way).
 */
const ARENA_SIZE = 8 * 1024 * 1024;
/** Between files, start over at the front of the arena when less than this is free. */
const FLUSH_ROOM = 2 * 1024 * 1024;
/**
 * Sealed blobs go to the main thread in batches of up to 4 MiB, written into one buffer that comes back
 * with the answer and is reused. A new sealed buffer per blob (and a new pack-sized compression buffer per
 * chunk) was garbage in both threads until a GC: on the 1 GiB mixed bench corpus the main thread held up
 * to 158 MiB of external memory and each worker ~50 MiB (bench, 2026-11-30).
 */
const EMIT_BYTES = 4 * 1024 * 1024;

export class ChunkWork {
  readonly #chunker: Chunker;
  readonly #master: MasterKey;
  readonly #level: number;

  constructor(keys: WorkKeys) {
    this.#chunker = new Chunker(Buffer.from(keys.chunker.seed, 'hex'), keys.chunker);
    this.#arena = this.#chunker.arena(ARENA_SIZE);
    this.#master = { encryption: Buffer.from(keys.master.encryption), mac: Buffer.from(keys.master.mac) };
    this.#level = keys.level;
  }

  /**
   * One reusable arena for file data: files are read into it back to back and chunks are views into it
   * until they are flushed. Reusing it (instead of a fresh buffer per file or per read) removed most of
   * the time the first profile showed: page faults of new buffers and the garbage collector (2/3 of a
   * backup of /usr/bin inline). It must hold a max-size chunk left over plus room to read. It lives in
   * the chunker's WebAssembly memory, where cutting runs at wasm speed.
   */
  readonly #arena: Buffer;
  /** Compressed chunks are written here (then sealed into the emit buffer), not into a new buffer each. */
  readonly #scratch = newScratch();
  /** The buffer sealed blobs are written into; handed to `emit` and back. */
  #emitBuf: Buffer | undefined;

  async processBatch(jobs: FileJob[], env: WorkEnv): Promise<FileResult[]> {
    const results: FileResult[] = [];
    const arena = this.#arena;
    const max = this.#chunker.params.max;
    let pending: Array<{ id: string; data: Uint8Array; zeros: boolean }> = [];
    let pendingBytes = 0;
    /** arena[0..fill) holds data; everything before the current file's unchunked start may be pending. */
    let fill = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      pendingBytes = 0;
      const need = await env.ask(batch.map((c) => c.id));
      let buf = this.#emitBuf;
      this.#emitBuf = undefined;
      let out: SealedBlob[] = [];
      let used = 0;
      for (let i = 0; i < batch.length; i++) {
        if (!need[i]) continue;
        const c = batch[i]!;
        const z = compressBlob(c.data, this.#level, this.#scratch, !c.zeros);
        const length = z.data.length + SEAL_OVERHEAD;
        if (buf && out.length > 0 && used + length > buf.length) {
          buf = await env.emit(buf, out);
          out = [];
          used = 0;
        }
        if (!buf || length > buf.length) buf = Buffer.allocUnsafe(Math.max(length, EMIT_BYTES));
        seal(this.#master, z.data, BLOB_AAD, buf, used);
        out.push({ id: c.id, offset: used, length, rawLength: c.data.length, compression: z.compression });
        used += length;
      }
      this.#emitBuf = buf && out.length > 0 ? await env.emit(buf, out) : buf;
    };
    // arena[zeroFrom..zeroTo): the hole of a sparse file this file is in, filled with zeros rather than read.
    let zeroFrom = 0;
    let zeroTo = 0;
    const minCut = this.#chunker.params.min;
    const chunk = (start: number, end: number, eof: boolean, content: string[]): number => {
      let pos = start;
      while (end - pos >= max || (eof && pos < end)) {
        // Deep in a hole, where the cut falls and what the chunk is named are known without looking.
        const inHole = zeroFrom <= pos + minCut - 32 && pos + Math.min(end - pos, max) <= zeroTo;
        const len = inHole ? this.#chunker.zeroCut(end - pos) : this.#chunker.cut(arena, pos, end);
        const data = arena.subarray(pos, pos + len);
        // The cut looks only from min - 32 bytes in; the chunk is all zeros only if it starts in the hole.
        const id = inHole && zeroFrom <= pos ? this.#zeroId(data) : blobId(this.#master, data);
        content.push(id);
        // Part of a hole: zeros compress, whatever the chunk's first bytes look like.
        pending.push({ id, data, zeros: pos < zeroTo && pos + len > zeroFrom });
        pendingBytes += len;
        pos += len;
      }
      return pos;
    };

    for (const job of jobs) {
      const content: string[] = [];
      let fd: number;
      const path = fsPath(job.path);
      try {
        fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NOATIME);
      } catch {
        // O_NOATIME is refused (EPERM) for files we do not own unless privileged: retry without it.
        try {
          fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          results.push({ content: [], size: 0, error: e.message, errorCode: e.code ?? 'EIO' });
          continue;
        }
      }
      let size = 0;
      let changed = false;
      zeroFrom = zeroTo = 0;
      try {
        const before = fstatSync(fd, { bigint: true });
        if (Number(before.ino) !== job.ino) changed = true;
        const base = job.offset ?? 0;
        // Fewer blocks than bytes: there may be holes, which are not read (SEEK_DATA/SEEK_HOLE say where).
        const holes = before.blocks * 512n < before.size ? new Holes(fd, Number(before.size)) : undefined;
        let start = fill; // this file's first byte not yet cut into chunks
        let eof = false;
        while (!eof) {
          if (fill === arena.length) {
            // Arena full: cut what can be cut, release every pending view, move the tail to the front.
            start = chunk(start, fill, false, content);
            await flush();
            arena.copy(arena, 0, start, fill);
            fill -= start;
            zeroFrom = Math.max(0, zeroFrom - start);
            zeroTo = Math.max(0, zeroTo - start);
            start = 0;
          }
          let want = job.length === undefined ? arena.length - fill : Math.min(arena.length - fill, job.length - size);
          let n: number;
          const hole = holes?.at(base + size);
          if (hole !== undefined && hole > 0) {
            n = Math.min(want, hole);
            arena.fill(0, fill, fill + n);
            if (zeroTo !== fill) zeroFrom = fill;
            zeroTo = fill + n;
          } else {
            if (hole === 0) want = Math.min(want, holes!.dataLeft(base + size));
            n = want === 0 ? 0 : readSync(fd, arena, fill, want, base + size);
          }
          if (n === 0) eof = true;
          fill += n;
          size += n;
        }
        chunk(start, fill, true, content);
        const after = fstatSync(fd, { bigint: true });
        if (after.mtimeNs !== before.mtimeNs || String(before.mtimeNs) !== job.mtimeNs) changed = true;
        // A whole file must have its walk-time size; a segment its length (the last one is checked by the caller).
        if (job.offset === undefined && (Number(after.size) !== size || size !== job.size)) changed = true;
        if (job.length !== undefined && size !== job.length) changed = true;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        closeSync(fd);
        // Chunks of this file already pending are still stored (the caller reserved them); the file is not.
        results.push({ content: [], size: 0, error: e.message, errorCode: e.code ?? 'EIO' });
        continue;
      } finally {
        if (pendingBytes >= FLUSH_BYTES || arena.length - fill < FLUSH_ROOM) {
          await flush();
          fill = 0;
        }
      }
      closeSync(fd);
      results.push(changed ? { content, size, changed } : { content, size });
    }
    await flush();
    return results;
  }

  /** The ids of all-zero chunks, by length: holes of sparse files are mostly a few lengths over and over. */
  readonly #zeroIds = new Map<number, string>();

  #zeroId(zeros: Uint8Array): string {
    let id = this.#zeroIds.get(zeros.length);
    if (id === undefined) this.#zeroIds.set(zeros.length, (id = blobId(this.#master, zeros)));
    return id;
  }
}

/**
 * Where a sparse file's holes are, found as the read goes (lseek SEEK_DATA / SEEK_HOLE): a hole is
 * filled with zeros instead of read, so a 10 GiB file holding 1 MiB costs what 1 MiB costs.
 */
class Holes {
  readonly #fd: number;
  #size: number;
  /** The data run known: [dataAt, holeAt). */
  #dataAt = -1;
  #holeAt = -1;

  constructor(fd: number, size: number) {
    this.#fd = fd;
    this.#size = size;
  }

  /** How many bytes of hole start at `offset` (0: data is there; up to the size seen at open). */
  at(offset: number): number {
    if (offset >= this.#size) return 0; // past the size seen: read, to see whether the file grew
    if (offset >= this.#holeAt || offset < this.#dataAt) {
      const native = nativeFs();
      const d = native.seekData(this.#fd, offset);
      this.#dataAt = d < 0 ? this.#size : d;
      this.#holeAt = d < 0 ? this.#size : native.seekHole(this.#fd, d);
      if (this.#holeAt < 0) this.#holeAt = this.#size;
    }
    if (offset >= this.#dataAt) return 0;
    // A hole is not read, so a file cut short meanwhile would not be noticed: ask its size (once per hole
    // piece, not per byte) and stop at its end, as a read would.
    const now = Number(fstatSync(this.#fd).size);
    if (now < this.#size) this.#size = now;
    return Math.max(0, Math.min(this.#dataAt, this.#size) - offset);
  }

  /** Bytes of data from `offset` (in a data run) before the next hole; at least 1. */
  dataLeft(offset: number): number {
    return Math.max(1, this.#holeAt - offset);
  }
}
