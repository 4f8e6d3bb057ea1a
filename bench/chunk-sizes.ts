/**
 * The measurement behind the default chunk sizes (src/core/defaults.ts): for several FastCDC averages,
 * chunk the mixed corpus and its mutated copy (a day's changes) and report the unique bytes of the first
 * backup, the new bytes the incremental must store, the number of chunks (index size), and chunking speed.
 *
 *   node --import tsx bench/chunk-sizes.ts [--mib 1024]
 * Writes bench/results/chunk-sizes.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Chunker } from '../src/repo/index.ts';
import { ensureCorpus, listFiles, mutateMixed } from './corpus.ts';

const { values } = parseArgs({ options: { mib: { type: 'string' } } });
const mib = Number(values.mib ?? 1024);
const work = join(import.meta.dirname, 'work');
const corpus = ensureCorpus(join(work, 'corpus'), 'mixed', mib, 42);
const mutated = join(work, 'chunk-sizes-mutated');
rmSync(mutated, { recursive: true, force: true });
cpSync(corpus.tree, mutated, { recursive: true });
mutateMixed(mutated, corpus.manifest, 7);

function chunkTree(root: string, c: Chunker, seen: Set<string>): { chunks: number; newBytes: number; bytes: number; ms: number } {
  let chunks = 0;
  let newBytes = 0;
  let bytes = 0;
  let ms = 0;
  for (const rel of listFiles(root)) {
    const data = readFileSync(join(root, rel));
    bytes += data.length;
    const t = performance.now();
    const parts = [...c.split(data)];
    ms += performance.now() - t;
    for (const p of parts) {
      chunks++;
      const id = createHash('sha256').update(p).digest('hex');
      if (!seen.has(id)) {
        seen.add(id);
        newBytes += p.length;
      }
    }
  }
  return { chunks, newBytes, bytes, ms };
}

const rows: string[] = [];
const seed = randomBytes(32);
for (const avg of [256, 512, 1024, 2048, 4096]) {
  const c = new Chunker(seed, { min: (avg * 1024) / 4, avg: avg * 1024, max: avg * 1024 * 8 });
  const seen = new Set<string>();
  const first = chunkTree(corpus.tree, c, seen);
  const second = chunkTree(mutated, c, seen);
  const line = `| ${avg} KiB | ${first.chunks} | ${(first.newBytes / 2 ** 20).toFixed(1)} MiB | ${(second.newBytes / 2 ** 20).toFixed(1)} MiB | ${(first.bytes / 1e6 / (first.ms / 1000)).toFixed(0)} MB/s |`;
  rows.push(line);
  console.log(line);
}
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(
  join(import.meta.dirname, 'results', 'chunk-sizes.md'),
  `# FastCDC average chunk size: dedup vs index size\n\nMixed corpus of ${mib} MiB (seed 42) and the same after a day's changes (bench/corpus.ts mutateMixed, seed 7); min = avg/4, max = avg×8, normalization level 2. Measured ${new Date().toISOString().slice(0, 10)} on the project machine.\n\n| average | chunks (first) | unique bytes, first backup | new bytes, incremental | chunking speed (1 core) |\n|---|---:|---:|---:|---:|\n${rows.join('\n')}\n`,
);
rmSync(mutated, { recursive: true, force: true });
