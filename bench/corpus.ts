/**
 * Deterministic benchmark corpora: the same seed and version give the same bytes, file for file.
 *
 *   mixed  about N MiB shaped like a small server: a source tree of small text files, logs and JSON lines,
 *          incompressible media-like files, one database-like file of 8 KiB pages, duplicated files and
 *          folders, and a copy of the start of the database with bytes inserted near its start (so only
 *          content-defined chunking finds the shared data).
 *   tiny   N tiny text files (20..4000 bytes) in nested folders: a metadata-bound tree.
 *   mutate a day of changes on a mixed tree: ~1 % of files rewritten, ~0.5 % deleted, logs grown,
 *          1 % of the database pages rewritten in place, new files added.
 *
 * Every file's content comes from its own PRNG stream (keyed by seed, kind and file number), so the
 * generator is fast (~300-600 MB/s: AES-CTR for random bytes, byte loops for text) and changing one part
 * of the recipe does not reshuffle the rest. Bump CORPUS_VERSION whenever the recipe changes: the cache
 * key includes it.
 *
 * The generator also returns a manifest (relative path → size and SHA-256), which is what restores are
 * verified against.
 *
 * Stand-alone use:
 *   node --import tsx bench/corpus.ts mixed DIR [--mib 1024] [--seed 42]
 *   node --import tsx bench/corpus.ts tiny DIR [--files 100000] [--seed 42]
 *   node --import tsx bench/corpus.ts mutate DIR [--seed 42]      (DIR made by `mixed`; rewrites DIR.manifest.json)
 */
import { createCipheriv, createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Bump when the recipe changes: cached corpora carry it in their folder name. */
export const CORPUS_VERSION = 2;

export interface FileEntry {
  size: number;
  sha256: string;
}
/** Relative path (with "/") → size and SHA-256 of the content. */
export type Manifest = Record<string, FileEntry>;

// ---------------------------------------------------------------------------------------------------------
// Randomness

/** xoshiro128**: small, fast, 32-bit, seeded from SHA-256 of a label. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(label: string) {
    const h = createHash('sha256').update(label).digest();
    this.a = h.readUInt32LE(0) | 1;
    this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8);
    this.d = h.readUInt32LE(12);
  }

  /** Uniform uint32. */
  next(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.next() / 4294967296) * n);
  }

  /** Uniform integer in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + this.below(hi - lo);
  }

  /** Uniform float in [0, 1). */
  unit(): number {
    return this.next() / 4294967296;
  }

  pick<T>(list: readonly T[]): T {
    const v = list[this.below(list.length)];
    if (v === undefined) throw new Error('pick from an empty list');
    return v;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** n incompressible bytes: the AES-256-CTR keystream under a key derived from the label. */
export function randomBytes(label: string, n: number): Buffer {
  const key = createHash('sha256').update(label).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return cipher.update(Buffer.alloc(n));
}

// ---------------------------------------------------------------------------------------------------------
// Text-like content, written straight into a Buffer of the exact size

const VOCAB = (
  'backup restore replica snapshot failover site journal chunk index pack volume table row user order ' +
  'invoice customer session token request response error warning info debug latency bytes node primary ' +
  'standby region zone disk network cache queue worker thread socket buffer stream handler config value ' +
  'result status count total offset length timeout retry client server agent policy schedule archive'
).split(' ');
const VOCAB_BUF = Buffer.from(VOCAB.join(''), 'latin1');
const VOCAB_OFF = new Uint32Array(VOCAB.length);
const VOCAB_LEN = new Uint32Array(VOCAB.length);
{
  let o = 0;
  VOCAB.forEach((w, i) => {
    VOCAB_OFF[i] = o;
    VOCAB_LEN[i] = w.length;
    o += w.length;
  });
}
const LEVELS = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];

/** Fills a buffer front to back; `str` and `words` stop silently at the end. */
class Filler {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly rng: Rng,
  ) {}

  get full(): boolean {
    return this.pos >= this.buf.length;
  }

  str(s: string): void {
    if (this.pos < this.buf.length) this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /** `count` vocabulary words separated by spaces, a newline every ~`lineEvery` words (0: never). */
  words(count: number, lineEvery = 0): void {
    const { buf, rng } = this;
    const end = buf.length;
    let p = this.pos;
    for (let k = 0; k < count && p < end; k++) {
      const i = rng.below(VOCAB.length);
      const o = VOCAB_OFF[i] ?? 0;
      const l = VOCAB_LEN[i] ?? 0;
      for (let j = 0; j < l && p < end; j++) buf[p++] = VOCAB_BUF[o + j] ?? 32;
      if (p < end) buf[p++] = lineEvery > 0 && rng.below(lineEvery) === 0 ? 10 : 32;
    }
    this.pos = p;
  }

  word(): string {
    return this.rng.pick(VOCAB);
  }
}

/** Source-code-like text: indented lines of a few statement shapes. */
export function sourceText(rng: Rng, n: number): Buffer {
  const f = new Filler(Buffer.alloc(n), rng);
  let depth = 0;
  while (!f.full) {
    const indent = '  '.repeat(depth);
    switch (rng.below(9)) {
      case 0:
        f.str(`import { ${f.word()} } from './${f.word()}/${f.word()}.ts';\n`);
        break;
      case 1:
        f.str(`${indent}export function ${f.word()}${f.word()}(${f.word()}: string, n = ${rng.below(1000)}): number {\n`);
        depth = Math.min(depth + 1, 4);
        break;
      case 2:
        f.str(`${indent}if (${f.word()}.${f.word()} > ${rng.below(100000)}) {\n`);
        depth = Math.min(depth + 1, 4);
        break;
      case 3:
        if (depth === 0) {
          f.str(`export const ${f.word()} = ${rng.below(1 << 20)};\n`);
          break;
        }
        depth--;
        f.str(`${'  '.repeat(depth)}}\n`);
        break;
      case 4:
        f.str(`${indent}// `);
        f.words(4 + rng.below(10));
        f.str('\n');
        break;
      case 5:
        f.str(`${indent}return ${f.word()} + ${rng.below(256)};\n`);
        break;
      default:
        f.str(`${indent}const ${f.word()}${rng.below(100)} = ${f.word()}(${f.word()}, '${f.word()}', ${rng.below(65536)});\n`);
    }
  }
  return f.buf;
}

/** Plain prose-like text of vocabulary words. */
export function plainText(rng: Rng, n: number): Buffer {
  const f = new Filler(Buffer.alloc(n), rng);
  while (!f.full) f.words(1 << 16, 9);
  return f.buf;
}

/** Application log lines with timestamps, levels and request ids. */
export function logText(rng: Rng, n: number, startMs = 1_700_000_000_000 + rng.below(1e9)): Buffer {
  const f = new Filler(Buffer.alloc(n), rng);
  let t = startMs;
  while (!f.full) {
    t += rng.below(5000);
    f.str(`${new Date(t).toISOString()} ${rng.pick(LEVELS)} req=${rng.next().toString(16)} `);
    f.words(5 + rng.below(14));
    f.pos--; // replace the last separator by the newline
    f.str('\n');
  }
  return f.buf;
}

/** JSON lines: one record per line. */
export function jsonLines(rng: Rng, n: number): Buffer {
  const f = new Filler(Buffer.alloc(n), rng);
  while (!f.full) {
    f.str(
      `{"id":${rng.next()},"user":"${f.word()}${rng.below(1000)}","amount":${rng.below(100000) / 100},` +
        `"tags":["${f.word()}","${f.word()}"],"ok":${rng.below(2) === 1}}\n`,
    );
  }
  return f.buf;
}

const PAGE = 8192;

/** One database page: a 16-byte header, then empty (30 %), JSON rows and free space (40 %) or random (30 %). */
export function dbPage(rng: Rng, label: string, pageNo: number, lsn: number): Buffer {
  const page = Buffer.alloc(PAGE);
  const kind = rng.below(100);
  if (kind >= 30) {
    const body = kind < 70 ? jsonLines(rng, 4000 + rng.below(2000)) : randomBytes(`${label}:${pageNo}:${lsn}`, PAGE - 16);
    body.copy(page, 16);
  }
  page.writeUInt32LE(0x4c425047, 0); // "GPBL"
  page.writeUInt32LE(pageNo, 4);
  page.writeUInt32LE(lsn, 8);
  page.writeUInt32LE(kind, 12);
  return page;
}

// ---------------------------------------------------------------------------------------------------------
// Writing files

class TreeWriter {
  readonly manifest: Manifest = {};
  bytes = 0;
  private readonly dirs = new Set<string>();

  constructor(readonly root: string) {}

  put(rel: string, data: Buffer): void {
    const path = join(this.root, rel);
    const dir = dirname(path);
    if (!this.dirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.dirs.add(dir);
    }
    writeFileSync(path, data);
    this.manifest[rel] = { size: data.length, sha256: sha256(data) };
    this.bytes += data.length;
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const MEDIA_EXT = ['jpg', 'jpg', 'jpg', 'png', 'mp4', 'webp'];

/** Creates a mixed tree of about `mib` MiB under `root` (which must not exist or be empty). */
export function createMixed(root: string, mib: number, seed: number): Manifest {
  const budget = mib * 1024 * 1024;
  const rng = new Rng(`mixed:${seed}:layout`);
  const w = new TreeWriter(root);
  let n = 0; // file number: each file's content has its own stream
  const content = (kind: string): Rng => new Rng(`mixed:${seed}:${kind}:${n++}`);

  // 15 %: a source tree, mostly small files (skewed: many tiny, few up to 32 KiB), with some JSON and docs.
  const srcFiles: string[] = [];
  while (w.bytes < budget * 0.15) {
    const u = rng.unit();
    const size = 100 + Math.floor(u * u * 32 * 1024);
    // 40 packages of up to 25 folders each: ~14 files per folder on the full corpus
    const p = rng.below(40);
    const sub = rng.below(25);
    const pkg = `src/${VOCAB[p % VOCAB.length] ?? 'pkg'}-${p}/${VOCAB[(p * 7 + sub) % VOCAB.length] ?? 'mod'}${sub}`;
    const r = rng.below(20);
    const rel =
      r === 0
        ? `${pkg}/${rng.pick(VOCAB)}-${rng.next().toString(36)}.json`
        : r === 1
          ? `${pkg}/${rng.pick(VOCAB)}-${rng.next().toString(36)}.md`
          : `${pkg}/${rng.pick(VOCAB)}-${rng.next().toString(36)}.ts`;
    const c = content('src');
    w.put(rel, r === 0 ? jsonLines(c, size) : r === 1 ? plainText(c, size) : sourceText(c, size));
    srcFiles.push(rel);
  }
  // 20 %: logs and JSON lines, 1..8 MiB each.
  const logFiles: string[] = [];
  while (w.bytes < budget * 0.35) {
    const size = rng.range(1 << 20, 8 << 20);
    const svc = rng.pick(VOCAB);
    if (rng.below(2) === 0) {
      const rel = `logs/${svc}/${svc}-${rng.next().toString(36)}.log`;
      w.put(rel, logText(content('log'), size));
      logFiles.push(rel);
    } else {
      w.put(`logs/${svc}/${svc}-${rng.next().toString(36)}.jsonl`, jsonLines(content('jsonl'), size));
    }
  }
  // 25 %: media-like incompressible files, 256 KiB .. 16 MiB.
  const mediaFiles: string[] = [];
  while (w.bytes < budget * 0.6) {
    const size = rng.range(256 << 10, 16 << 20);
    const rel = `media/${2015 + rng.below(10)}/${rng.pick(VOCAB)}-${rng.next().toString(36)}.${rng.pick(MEDIA_EXT)}`;
    w.put(rel, randomBytes(`mixed:${seed}:media:${n++}`, size));
    mediaFiles.push(rel);
  }
  // 25 %: one database-like file of 8 KiB pages (the largest file of the tree).
  const pages = Math.floor((budget * 0.25) / PAGE);
  const db = Buffer.alloc(pages * PAGE);
  const dbRng = new Rng(`mixed:${seed}:db`);
  for (let p = 0; p < pages; p++) dbPage(dbRng, `mixed:${seed}:db`, p, 1).copy(db, p * PAGE);
  w.put('db/base.dat', db);
  // ~10 %: duplicates. Whole files (media, logs) and a whole copied source package (vendored code).
  const read = (rel: string): Buffer => readFileSync(join(root, rel));
  let k = 0;
  while (w.bytes < budget * 0.975 && k < mediaFiles.length + logFiles.length) {
    const m = k % 2 === 0 ? mediaFiles[k / 2] : logFiles[(k - 1) / 2];
    k++;
    if (m === undefined) continue;
    w.put(`copies/${m.replaceAll('/', '_')}`, read(m));
    if (k === 3) {
      const firstPkg = (srcFiles[0] ?? 'src/x').split('/').slice(0, 2).join('/');
      for (const s of srcFiles.filter((f) => f.startsWith(`${firstPkg}/`))) w.put(`vendor/${s.slice(4)}`, read(s));
    }
  }
  // ~2.5 %: the start of the database with 1234 bytes inserted 4113 bytes in.
  const slice = db.subarray(0, Math.min(db.length, Math.floor(budget * 0.025)));
  w.put(
    'copies/db-shifted.dat',
    Buffer.concat([slice.subarray(0, 4113), randomBytes(`mixed:${seed}:insert`, 1234), slice.subarray(4113)]),
  );
  return w.manifest;
}

/** Creates `files` tiny text files (20..4000 bytes) under `root`, ~10 per folder, two levels deep. */
export function createTiny(root: string, files: number, seed: number): Manifest {
  const w = new TreeWriter(root);
  const rng = new Rng(`tiny:${seed}`);
  for (let i = 0; i < files; i++) {
    const leaf = Math.floor(i / 10);
    const rel = `d${leaf % 100}/e${Math.floor(leaf / 100)}/${rng.pick(VOCAB)}-${i}.txt`;
    w.put(rel, plainText(rng, rng.range(20, 4001)));
  }
  return w.manifest;
}

export interface MutationSummary {
  rewritten: number;
  deleted: number;
  grown: number;
  added: number;
  dbPagesRewritten: number;
  bytesWritten: number;
}

/**
 * A day of changes on a mixed tree, in place, deterministic for a seed. Returns the new manifest.
 * Files are visited in sorted order, so the outcome does not depend on directory listing order.
 */
export function mutateMixed(root: string, before: Manifest, seed: number): { manifest: Manifest; summary: MutationSummary } {
  const rng = new Rng(`mixed:${seed}:mutate`);
  const manifest: Manifest = { ...before };
  const s: MutationSummary = { rewritten: 0, deleted: 0, grown: 0, added: 0, dbPagesRewritten: 0, bytesWritten: 0 };
  const write = (rel: string, data: Buffer): void => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), data);
    manifest[rel] = { size: data.length, sha256: sha256(data) };
    s.bytesWritten += data.length;
  };
  let n = 0;
  for (const rel of Object.keys(before).sort()) {
    if (rel === 'db/base.dat') continue;
    const r = rng.below(1000);
    const entry = before[rel];
    if (entry === undefined) continue;
    if (r < 10) {
      // rewritten: same kind of content, similar size
      const size = Math.max(20, Math.floor(entry.size * (0.8 + rng.unit() * 0.4)));
      const c = new Rng(`mixed:${seed}:mutate:${n++}`);
      write(rel, /\.(jpg|png|mp4|webp|dat)$/.test(rel) ? randomBytes(`mixed:${seed}:mutate:${n++}`, size) : sourceText(c, size));
      s.rewritten++;
    } else if (r < 15) {
      rmSync(join(root, rel));
      delete manifest[rel];
      s.deleted++;
    } else if (rel.endsWith('.log') && r < 600) {
      // logs grow by 64 KiB .. 1 MiB
      const grow = logText(new Rng(`mixed:${seed}:mutate:${n++}`), rng.range(64 << 10, 1 << 20), 1_800_000_000_000);
      const data = Buffer.concat([readFileSync(join(root, rel)), grow]);
      write(rel, data);
      s.bytesWritten -= data.length - grow.length;
      s.grown++;
    }
  }
  // the database: 1 % of its pages rewritten in place
  const dbPath = join(root, 'db/base.dat');
  if (existsSync(dbPath)) {
    const fd = openSync(dbPath, 'r+');
    try {
      const pages = Math.floor(statSync(dbPath).size / PAGE);
      const dbRng = new Rng(`mixed:${seed}:mutate:db`);
      for (let i = 0; i < Math.ceil(pages / 100); i++) {
        const p = rng.below(pages);
        writeSync(fd, dbPage(dbRng, `mixed:${seed}:mutate:db`, p, 2 + i), 0, PAGE, p * PAGE);
        s.dbPagesRewritten++;
        s.bytesWritten += PAGE;
      }
    } finally {
      closeSync(fd);
    }
    manifest['db/base.dat'] = hashFile(dbPath);
  }
  // new files: a day's new source files, a new log, two new photos
  for (let i = 0; i < 200; i++) {
    write(`src/new-work/${rng.pick(VOCAB)}-${i}.ts`, sourceText(new Rng(`mixed:${seed}:mutate:${n++}`), rng.range(200, 16384)));
    s.added++;
  }
  write(`logs/new/today.log`, logText(new Rng(`mixed:${seed}:mutate:${n++}`), 4 << 20, 1_800_000_000_000));
  for (let i = 0; i < 2; i++) write(`media/new/photo-${i}.jpg`, randomBytes(`mixed:${seed}:mutate:media:${i}`, rng.range(2 << 20, 6 << 20)));
  s.added += 3;
  return { manifest, summary: s };
}

// ---------------------------------------------------------------------------------------------------------
// Hashing and verification

const READ_BUF = Buffer.allocUnsafe(8 << 20);

export function hashFile(path: string): FileEntry {
  const fd = openSync(path, 'r');
  try {
    const h = createHash('sha256');
    let size = 0;
    for (;;) {
      const got = readSync(fd, READ_BUF, 0, READ_BUF.length, null);
      if (got === 0) break;
      h.update(READ_BUF.subarray(0, got));
      size += got;
    }
    return { size, sha256: h.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

/** Relative paths (with "/") of every non-directory entry below root, sorted. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(root, p).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

/**
 * Compares the files below `root` with `expected`: same set of paths, same contents (SHA-256).
 * Returns the problems found (empty when identical), at most `limit` of them listed.
 */
export function verifyTree(root: string, expected: Manifest, limit = 20): string[] {
  const problems: string[] = [];
  const note = (p: string): void => {
    if (problems.length < limit) problems.push(p);
    else if (problems.length === limit) problems.push('… more problems not listed');
  };
  if (!existsSync(root)) return [`restored tree not found at ${root}`];
  const found = new Set(listFiles(root));
  for (const [rel, want] of Object.entries(expected)) {
    if (!found.has(rel)) {
      note(`missing: ${rel}`);
      continue;
    }
    found.delete(rel);
    const got = hashFile(join(root, rel));
    if (got.size !== want.size) note(`wrong size: ${rel} (${got.size} bytes, expected ${want.size})`);
    else if (got.sha256 !== want.sha256) note(`wrong content: ${rel}`);
  }
  for (const rel of found) note(`unexpected file: ${rel}`);
  return problems;
}

export function totalBytes(m: Manifest): number {
  return Object.values(m).reduce((a, e) => a + e.size, 0);
}

/** The largest file of a manifest (ties: the first path in sorted order). */
export function largestFile(m: Manifest): string {
  let best = '';
  let size = -1;
  for (const rel of Object.keys(m).sort()) {
    const e = m[rel];
    if (e !== undefined && e.size > size) {
      best = rel;
      size = e.size;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------------------
// The cache: one folder per (kind, size, seed, version) holding tree/ and manifest.json (written last)

export interface CachedCorpus {
  dir: string;
  tree: string;
  manifest: Manifest;
  generatedS: number;
  fromCache: boolean;
}

export function ensureCorpus(cacheRoot: string, kind: 'mixed' | 'tiny', size: number, seed: number): CachedCorpus {
  const dir = join(cacheRoot, `${kind}-${size}${kind === 'mixed' ? 'mib' : 'files'}-s${seed}-v${CORPUS_VERSION}`);
  const tree = join(dir, 'tree');
  const manifestPath = join(dir, 'manifest.json');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    // cheap sanity check: every file is there with its size (contents are checked by restores anyway)
    const intact = Object.entries(manifest).every(([rel, e]) => {
      try {
        return statSync(join(tree, rel)).size === e.size;
      } catch {
        return false;
      }
    });
    if (intact) return { dir, tree, manifest, generatedS: 0, fromCache: true };
  }
  rmSync(dir, { recursive: true, force: true });
  // corpora of older recipe versions are never used again
  if (existsSync(cacheRoot)) {
    for (const name of readdirSync(cacheRoot)) {
      const v = /^(mixed|tiny)-.*-v(\d+)$/.exec(name)?.[2];
      if (v !== undefined && Number(v) !== CORPUS_VERSION) rmSync(join(cacheRoot, name), { recursive: true, force: true });
    }
  }
  const t0 = performance.now();
  const manifest = kind === 'mixed' ? createMixed(tree, size, seed) : createTiny(tree, size, seed);
  writeFileSync(manifestPath, JSON.stringify(manifest));
  return { dir, tree, manifest, generatedS: (performance.now() - t0) / 1000, fromCache: false };
}

// ---------------------------------------------------------------------------------------------------------

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { mib: { type: 'string' }, files: { type: 'string' }, seed: { type: 'string' } },
  });
  const [cmd, dir] = positionals;
  const seed = Number(values.seed ?? 42);
  if (dir === undefined || !['mixed', 'tiny', 'mutate'].includes(cmd ?? '')) {
    console.error('usage: corpus.ts mixed|tiny|mutate DIR [--mib N] [--files N] [--seed S]');
    process.exit(2);
  }
  const t0 = performance.now();
  const manifestPath = `${dir}.manifest.json`;
  let m: Manifest;
  if (cmd === 'mutate') {
    const r = mutateMixed(dir, JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest, seed);
    m = r.manifest;
    console.log(JSON.stringify(r.summary));
  } else {
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      console.error(`${dir} exists and is not empty`);
      process.exit(2);
    }
    m = cmd === 'mixed' ? createMixed(dir, Number(values.mib ?? 1024), seed) : createTiny(dir, Number(values.files ?? 100000), seed);
  }
  writeFileSync(manifestPath, JSON.stringify(m));
  const bytes = totalBytes(m);
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${cmd}: ${Object.keys(m).length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${s.toFixed(1)} s; manifest ${manifestPath}`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
