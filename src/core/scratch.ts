/**
 * A reusable buffer, owned by one thread. Functions that take one return views into it that stay valid
 * until its next use. The hot loops (backup workers compressing, restore and check workers decrypting and
 * decompressing) used to get a new buffer per blob. Dead buffers outside the V8 heap wait for a GC, in the
 * bench each worker held tens of MiB of them, and every new large buffer is fresh memory the kernel must
 * map and zero page by page (bench, 2026-11-30).
 */
export interface Scratch {
  buf: Buffer;
}

export function newScratch(): Scratch {
  return { buf: Buffer.alloc(0) };
}

/** The scratch buffer, grown (at least doubling, up to 64 MiB at a time) to hold `n` bytes. */
export function scratchBuffer(s: Scratch, n: number): Buffer {
  if (s.buf.length < n) s.buf = Buffer.allocUnsafe(Math.max(n, Math.min(2 * s.buf.length, 64 << 20)));
  return s.buf;
}
