/**
 * The CPU- and write-heavy half of a restore: decode the blobs of one pack (decrypt, decompress, verify)
 * and write each at its offsets in every file that uses it. Runs in worker threads (restore-worker.ts),
 * one pack at a time each, so both cores decode and both write; or inline.
 *
 * Files are opened by path with O_NOFOLLOW and O_CREAT: the restorer has already checked every folder on
 * the path is a real folder inside the target and removed whatever stood at the file's name. The chunk
 * that ends a file also sets its size, so trailing holes survive. Zero runs become holes (sparse files).
 */
import { closeSync, constants as fsc, ftruncateSync, openSync, writeSync } from 'node:fs';
import { fsPath } from '../../core/index.ts';
import { decodeBlob, newBlobScratch, type BlobLocation, type MasterKey } from '../../repo/index.ts';

export interface RestoreTarget {
  /** Absolute path of the file in the target. */
  path: string;
  offset: number;
  /** Set on the chunk that ends the file: the file's size. */
  end?: number;
}

export interface PackJob {
  pack: string;
  /** Pack offset of `bytes[0]`. */
  start: number;
  bytes: Uint8Array;
  blobs: Array<{ loc: BlobLocation; targets: RestoreTarget[] }>;
  /** Shared with the restorer: once its first element is non-zero, the job stops before its next blob. */
  stop?: Int32Array;
}

export interface PackResult {
  bytes: number;
  failed: Array<{ path: string; message: string }>;
}

/** Files a worker keeps open between packs (a file's chunks are often in consecutive packs). */
const OPEN_FILES = 128;
/** Zero runs of at least this many bytes, aligned in the file, are left as holes. */
const SPARSE_BLOCK = 64 * 1024;

export class RestoreWork {
  readonly #master: MasterKey;
  readonly #fds = new Map<string, number>();
  readonly #zero = Buffer.alloc(SPARSE_BLOCK);
  /** Chunks are decrypted and decompressed into these buffers (written out before the next), not new ones each. */
  readonly #scratch = newBlobScratch();

  constructor(master: { encryption: Uint8Array; mac: Uint8Array }) {
    this.#master = { encryption: Buffer.from(master.encryption), mac: Buffer.from(master.mac) };
  }

  processPack(job: PackJob): PackResult {
    const result: PackResult = { bytes: 0, failed: [] };
    const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
    for (const { loc, targets } of job.blobs) {
      if (job.stop && Atomics.load(job.stop, 0) !== 0) break;
      let plain: Buffer;
      try {
        plain = decodeBlob(this.#master, loc, loc.pack, bytes.subarray(loc.offset - job.start, loc.offset - job.start + loc.length), this.#scratch);
      } catch (err) {
        for (const t of targets) result.failed.push({ path: t.path, message: (err as Error).message });
        continue;
      }
      for (const t of targets) {
        try {
          const fd = this.#open(t.path);
          const written = this.#writeSparse(fd, plain, t.offset);
          // Files are new (the restorer removed whatever stood there), so a file whose last chunk was
          // written to its end already has its size; only a trailing hole needs the truncate (a system call
          // per file saved: 100,000 of them in the bench's tiny-files restore).
          if (t.end !== undefined && written !== t.end) ftruncateSync(fd, t.end);
          result.bytes += plain.length;
        } catch (err) {
          result.failed.push({ path: t.path, message: (err as Error).message });
        }
      }
    }
    return result;
  }

  #open(path: string): number {
    let fd = this.#fds.get(path);
    if (fd !== undefined) {
      // Most recently used last, so the oldest is evicted first.
      this.#fds.delete(path);
      this.#fds.set(path, fd);
      return fd;
    }
    if (this.#fds.size >= OPEN_FILES) {
      const [oldPath, oldFd] = this.#fds.entries().next().value as [string, number];
      this.#fds.delete(oldPath);
      closeSync(oldFd);
    }
    fd = openSync(fsPath(path), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
    this.#fds.set(path, fd);
    return fd;
  }

  /** Close every file (before the restorer sets metadata). */
  closeAll(): void {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
  }

  /** Write `buf` at `pos`, leaving aligned zero blocks as holes; returns the end of the last byte written (or `pos`). */
  #writeSparse(fd: number, buf: Buffer, pos: number): number {
    const B = SPARSE_BLOCK;
    let runStart = -1;
    let lastEnd = pos;
    let i = 0;
    while (i < buf.length) {
      const next = Math.min(buf.length, (Math.floor((pos + i) / B) + 1) * B - pos);
      const block = buf.subarray(i, next);
      const zero = block.length === B && block[0] === 0 && block.equals(this.#zero);
      if (zero) {
        if (runStart >= 0) {
          writeAll(fd, buf.subarray(runStart, i), pos + runStart);
          lastEnd = pos + i;
        }
        runStart = -1;
      } else if (runStart < 0) {
        runStart = i;
      }
      i = next;
    }
    if (runStart >= 0) {
      writeAll(fd, buf.subarray(runStart), pos + runStart);
      return pos + buf.length;
    }
    return lastEnd;
  }
}

function writeAll(fd: number, buf: Buffer, pos: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, pos + off);
}
