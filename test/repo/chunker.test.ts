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

  it('zeroCut is the cut of a run of zeros, for any seed and sizes, whatever came before the run', () => {
    const params = [
      { min: 64, avg: 256, max: 1024 },
      { min: 2048, avg: 8192, max: 65536 },
      { min: 65536, avg: 262144, max: 2097152 },
    ];
    // Seeds for each of the three outcomes with the smallest sizes (a cut at min + 1 is a 1-in-1024 seed).
    const byOutcome = new Map<number, number>();
    for (let s = 0; byOutcome.size < 3 && s < 100_000; s++) {
      const c = new Chunker(createHash('sha256').update(`seed ${s}`).digest(), params[0]!);
      const at = c.zeroCut(1024);
      if (!byOutcome.has(at)) byOutcome.set(at, s);
    }
    assert.deepEqual([...byOutcome.keys()].sort((a, b) => a - b), [65, 257, 1024]);
    let seeds = 0;
    for (const s of [...byOutcome.values(), ...Array.from({ length: 64 }, (_, i) => i)]) {
      const seed = createHash('sha256').update(`seed ${s}`).digest();
      for (const p of params) {
        const c = new Chunker(seed, p);
        // Random bytes, then zeros: chunks that start far enough into the zeros are zeroCut's.
        const buf = Buffer.concat([data('random', 4096), Buffer.alloc(p.max * 3)]);
        for (const start of [4096 + 32 - p.min, 4096 + 32 - p.min + 1, 4096, 4096 + 1000]) {
          if (start < 0 || start + p.min - 32 < 4096) continue;
          for (const end of [buf.length, start + p.max, start + p.min, start + p.min + 1, start + p.avg, start + p.avg + 7, start + 10]) {
            if (end > buf.length) continue;
            assert.equal(c.zeroCut(end - start), c.cut(buf, start, end), `seed ${s} ${JSON.stringify(p)} start ${start} end ${end}`);
          }
        }
      }
      seeds++;
    }
    assert.equal(seeds, 67);
  });
});

