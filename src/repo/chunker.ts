/**
 * Content-defined chunking: FastCDC with normalized chunking (level 2) and a keyed gear table.
 *
 * Boundaries depend on content, so an insertion shifts only the chunks around it and the rest deduplicate.
 * The gear table is generated from a secret per-repository seed (AES-256-CTR keystream of the seed), so
 * chunk lengths — visible in pack headers to no one but readable as file sizes on the backend — do not
 * reveal which known file was stored (restic's unkeyed chunker does; see design.md).
 *
 * The hash is 32-bit: each step shifts left, so bit k depends on the last k+1 bytes and the masks take the
 * top bits (a 22..32-byte window). Normalization level 2: a stricter mask (2 more bits) before the average
 * size and a looser one (2 fewer) after, which narrows the size distribution around the average.
 */
import { createCipheriv } from 'node:crypto';
import { LifeboatError } from '../core/index.ts';

export interface ChunkerParams {
  min: number;
  avg: number;
  max: number;
}

export class Chunker {
  readonly params: ChunkerParams;
  readonly #gear: Int32Array;
  readonly #maskS: number;
  readonly #maskL: number;

  constructor(seed: Uint8Array, params: ChunkerParams) {
    const bits = Math.log2(params.avg);
    if (!Number.isInteger(bits) || params.min < 64 || params.min >= params.avg || params.avg >= params.max || bits < 8 || bits > 28) {
      throw new LifeboatError('CONFIG', `invalid chunker sizes min=${params.min} avg=${params.avg} max=${params.max}`, {
        hint: 'the average must be a power of two with min < avg < max',
      });
    }
    if (seed.length !== 32) throw new LifeboatError('CONFIG', 'chunker seed must be 32 bytes');
    this.params = params;
    const cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
    const stream = cipher.update(Buffer.alloc(256 * 4));
    this.#gear = new Int32Array(256);
    for (let i = 0; i < 256; i++) this.#gear[i] = stream.readInt32LE(i * 4);
    this.#maskS = topBits(bits + 2);
    this.#maskL = topBits(bits - 2);
  }

  /**
   * Length of the next chunk of `buf[start..end)`. If the region is shorter than `max` and more data may
   * follow, the caller should only trust cuts when `end - start >= max` or at end of input.
   */
  cut(buf: Uint8Array, start: number, end: number): number {
    const { min, avg, max } = this.params;
    let n = end - start;
    if (n <= min) return n;
    if (n > max) n = max;
    const normal = n < avg ? n : avg;
    const gear = this.#gear;
    const maskS = this.#maskS;
    const maskL = this.#maskL;
    let h = 0;
    let i = start + min;
    // Warm the hash over the 32 bytes before `min` so the first test after `min` sees a full window.
    for (let j = i - 32; j < i; j++) h = ((h << 1) + gear[buf[j]!]!) | 0;
    const mid = start + normal;
    for (; i < mid; i++) {
      h = ((h << 1) + gear[buf[i]!]!) | 0;
      if ((h & maskS) === 0) return i - start + 1;
    }
    const stop = start + n;
    for (; i < stop; i++) {
      h = ((h << 1) + gear[buf[i]!]!) | 0;
      if ((h & maskL) === 0) return i - start + 1;
    }
    return n;
  }

  /** Split a whole in-memory buffer; yields subarrays (no copies). */
  *split(buf: Uint8Array): Generator<Uint8Array> {
    let pos = 0;
    while (pos < buf.length) {
      const len = this.cut(buf, pos, buf.length);
      yield buf.subarray(pos, pos + len);
      pos += len;
    }
  }
}

function topBits(n: number): number {
  return n >= 32 ? -1 : ((0xffffffff << (32 - n)) | 0);
}
