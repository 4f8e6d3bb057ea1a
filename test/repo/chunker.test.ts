/**
 * The chunker's two loops — WebAssembly over its arena, JavaScript over any other buffer — cut every kind of
 * data at the same places, for several size settings, at the end of input and at the `max` limit.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Chunker } from '../../src/repo/index.ts';

/** Deterministic bytes: random-looking, or text-like (low entropy), or runs of zeros (cut only at max). */
function data(kind: 'random' | 'text' | 'zeros', n: number): Buffer {
  const out = Buffer.alloc(n);
  if (kind === 'zeros') return out;
  for (let off = 0, i = 0; off < n; i++) {
    const block = createHash('sha256').update(`${kind}:${i}`).digest();
    if (kind === 'text') for (let j = 0; j < block.length; j++) block[j] = 97 + (block[j]! % 7);
    off += block.copy(out, off);
  }
  return out;
}

function cuts(c: Chunker, buf: Uint8Array, start: number, end: number): number[] {
  const out: number[] = [];
  for (let pos = start; pos < end; ) {
    const n = c.cut(buf, pos, end);
    out.push(n);
    pos += n;
  }
  return out;
}

describe('chunker', () => {
  for (const params of [
    { min: 64 * 1024, avg: 256 * 1024, max: 2048 * 1024 },
    { min: 512, avg: 2048, max: 8192 },
  ]) {
    it(`cuts the same in WebAssembly and JavaScript (avg ${params.avg})`, () => {
      const seed = createHash('sha256').update('seed').digest();
      const wasm = new Chunker(seed, params);
      const js = new Chunker(seed, params);
      const size = 6 * 1024 * 1024;
      const arena = wasm.arena(size + 4096);
      for (const kind of ['random', 'text', 'zeros'] as const) {
        const d = data(kind, size);
        // At an odd offset inside the arena, and ending short of `max` (end of input).
        d.copy(arena, 333);
        const expected = cuts(js, d, 0, d.length);
        assert.deepEqual(cuts(wasm, arena, 333, 333 + d.length), expected, kind);
        // A view of the arena (as the backup uses) gives the same cuts.
        assert.deepEqual(cuts(wasm, arena.subarray(333, 333 + d.length), 0, d.length), expected, kind);
        assert.equal(expected.reduce((a, b) => a + b, 0), d.length);
        if (kind === 'zeros') assert.ok(expected.slice(0, -1).every((n) => n === params.max));
        else assert.ok(expected.length > 3, `${kind}: ${expected.length} chunks`);
      }
    });
  }
});
