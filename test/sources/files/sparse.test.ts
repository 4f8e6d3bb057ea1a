/**
 * Holes of sparse files are not read (SEEK_DATA/SEEK_HOLE) and not looked at byte by byte (Chunker.zeroCut),
 * yet every chunk is cut and named exactly as if the file had been read whole: for many chunker seeds and
 * sizes, files with holes and data islands at every kind of offset give the same chunks as dense copies.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { ChunkWork, type FileJob, type WorkEnv } from '../../../src/sources/files/chunk-work.ts';

const env: WorkEnv = { ask: async (ids) => ids.map(() => false), emit: async () => undefined };

function job(path: string, extra: Partial<FileJob> = {}): FileJob {
  const st = statSync(path, { bigint: true });
  return { path, size: Number(st.size), mtimeNs: String(st.mtimeNs), ino: Number(st.ino), ...extra };
}

it('a sparse file is chunked and named exactly as its dense copy, for any seed, sizes and layout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-sparse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sizes = [
    { min: 1024, avg: 4096, max: 16384 },
    { min: 4096, avg: 16384, max: 65536 },
    { min: 65536, avg: 262144, max: 2097152 },
  ];
  let compared = 0;
  for (let round = 0; round < 24; round++) {
    const p = sizes[round % sizes.length]!;
    const size = 8 * p.max + (round * 4093) % p.max;
    const sparse = join(dir, `s${round}`);
    const fd = openSync(sparse, 'w');
    // Islands of data at offsets and lengths that fall anywhere against blocks and chunk sizes.
    for (let k = 0; k < 4; k++) {
      const at = Math.floor(((k + 0.3 + (round % 5) * 0.11) / 4.5) * size);
      const n = 1 + ((round * 7919 + k * 104729) % (p.max + 100));
      writeSync(fd, randomBytes(n), 0, n, Math.min(at, size - n));
    }
    closeSync(fd);
    truncateSync(sparse, size);
    const dense = `${sparse}.dense`;
    execFileSync('cp', ['--sparse=never', sparse, dense]);
    const keys = { master: { encryption: randomBytes(32), mac: randomBytes(32) }, chunker: { ...p, seed: randomBytes(32).toString('hex') }, level: 1 };
    // Whole, and as two segments (as large files are read), each case in one batch with another file first.
    const cases: Array<Partial<FileJob>> = [{}, { offset: 0, length: Math.floor(size / 3) }, { offset: Math.floor(size / 3) }];
    for (const c of cases) {
      const a = await new ChunkWork(keys).processBatch([job('/etc/hostname'), job(sparse, c)], env);
      const b = await new ChunkWork(keys).processBatch([job('/etc/hostname'), job(dense, c)], env);
      assert.equal(a[1]!.error, undefined);
      assert.equal(a[1]!.size, b[1]!.size);
      assert.deepEqual(a[1]!.content, b[1]!.content, `round ${round} ${JSON.stringify(p)} ${JSON.stringify(c)}`);
      compared++;
    }
  }
  assert.equal(compared, 72);
});

it('a sparse file cut short while it is read ends where the file ends, not where it used to', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-sparse-cut-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'shrinks.img');
  const fd = openSync(file, 'w');
  for (let k = 0; k < 10; k++) writeSync(fd, randomBytes(1 << 20), 0, 1 << 20, k * (10 << 20));
  closeSync(fd);
  truncateSync(file, 100 << 20);
  const keys = { master: { encryption: randomBytes(32), mac: randomBytes(32) }, chunker: { min: 65536, avg: 262144, max: 2097152, seed: randomBytes(32).toString('hex') }, level: 1 };
  let cut = false;
  // The first question about chunks comes once the arena is full, some way into the file: cut it there.
  const cutting: WorkEnv = {
    ask: async (ids) => {
      if (!cut) truncateSync(file, 30 << 20);
      cut = true;
      return ids.map(() => false);
    },
    emit: async () => undefined,
  };
  const [r] = await new ChunkWork(keys).processBatch([job(file)], cutting);
  assert.ok(cut);
  assert.equal(r!.changed, true);
  assert.ok(r!.size <= 30 << 20, `read ${r!.size} bytes of a file now 30 MiB long`);
});
