/**
 * Buffers for the ranges a thread reads and hands to worker threads (check's pack ranges, restore's), used
 * for range after range. Each is shared memory: a worker works on a range where it lies, and the buffer
 * comes back to the pool once the worker has answered. A new buffer per range (read, transferred, left for
 * the worker's collector) churned through hundreds of 1 MiB allocations whose freed memory malloc kept:
 * 10-20 MiB of peak memory in the bench's check and restore, and more the faster the reads (2026-11-30).
 *
 * At most `n` buffers are out at once; `acquire` waits for one to come back, so the pool also bounds how
 * many ranges are in memory.
 */
export class RangeBuffers {
  readonly #free: Buffer[] = [];
  readonly #waiting: Array<(b: Buffer) => void> = [];

  constructor(n: number, size: number) {
    for (let i = 0; i < n; i++) this.#free.push(sharedBuffer(size));
  }

  /**
   * A buffer of at least `n` bytes, once one is free. One too small (a blob larger than a range, a long
   * header) is replaced by a larger one, which stays in the pool: it holds at most its count × the largest
   * range read.
   */
  async acquire(n = 0): Promise<Buffer> {
    const b = this.#free.pop() ?? (await new Promise<Buffer>((resolve) => this.#waiting.push(resolve)));
    return b.length >= n ? b : sharedBuffer(n);
  }

  release(b: Buffer): void {
    const next = this.#waiting.shift();
    if (next) next(b);
    else this.#free.push(b);
  }
}

function sharedBuffer(n: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(n));
}
