/**
 * The WAL archive: PostgreSQL's write-ahead log, kept in the repository so a base backup can be rolled
 * forward to any point. `archive_command` runs `lifeboat wal push %p` for every finished segment, history
 * file and backup label; `restore_command` runs `lifeboat wal fetch %f %p` during recovery.
 *
 * Each file is stored whole as a named object of type `wal` (compressed, sealed with its name, with a
 * SHA-256 of the original): `<system identifier>-<file name with . as _>`. The system identifier (from
 * `global/pg_control`, and checked against every segment's own header) keeps clusters apart in one
 * repository. Pushing a file that is already archived with the same content succeeds (PostgreSQL retries
 * after a crash); with different content it fails and names both, because overwriting could lose history.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LifeboatError, NotFoundError } from '../../core/index.ts';
import type { Repository } from '../../repo/index.ts';

/** Files PostgreSQL archives: segments, timeline history, backup labels, partial segments. */
const walFile = /^([0-9A-F]{24}|[0-9A-F]{8}\.history|[0-9A-F]{24}\.[0-9A-F]{8}\.backup|[0-9A-F]{24}\.partial)$/;
const segmentName = /^[0-9A-F]{24}$/;

export function isWalFileName(name: string): boolean {
  return walFile.test(name);
}

export function walObjectName(sysid: string, file: string): string {
  if (!/^\d{1,20}$/.test(sysid)) throw new LifeboatError('USAGE', `invalid system identifier ${sysid}`);
  if (!isWalFileName(file)) {
    throw new LifeboatError('USAGE', `${file} is not a WAL file name`, { hint: 'archive_command passes %p (the path) and restore_command %f (the name)' });
  }
  return `${sysid}-${file.replace(/\./g, '_')}`;
}

/** The system identifier in a data directory's `global/pg_control` (its first 8 bytes). */
export function systemIdentifier(pgdata: string): string {
  let control: Buffer;
  try {
    control = readFileSync(join(pgdata, 'global', 'pg_control'));
  } catch (err) {
    throw new LifeboatError('USAGE', `cannot read ${join(pgdata, 'global', 'pg_control')}: ${(err as Error).message}`, {
      cause: err,
      hint: 'run from the data directory (PostgreSQL runs archive_command and restore_command there) or pass --pgdata',
    });
  }
  if (control.length < 8) throw new LifeboatError('CORRUPT', `${pgdata}/global/pg_control is too short`);
  return control.readBigUInt64LE(0).toString();
}

/** A segment's long page header: its system identifier and segment size, or undefined if not a segment. */
export function segmentHeader(data: Buffer): { sysid: string; segSize: number; tli: number } | undefined {
  if (data.length < 40) return undefined;
  const info = data.readUInt16LE(2);
  if ((info & 0x0002) === 0) return undefined; // XLP_LONG_HEADER
  return { tli: data.readUInt32LE(4), sysid: data.readBigUInt64LE(24).toString(), segSize: data.readUInt32LE(32) };
}

/**
 * Why `data` is not the WAL file `file` of cluster `sysid`, or undefined when it is. A segment (or a
 * `.partial` one) must be exactly its segment size, with a long page header naming this cluster, its
 * timeline and its own position; a history file and a backup label must be the text PostgreSQL writes.
 * Stored unchecked, a file of 6 bytes named like a segment would refuse the real one forever after.
 */
export function walProblem(file: string, data: Buffer, sysid: string): string | undefined {
  const seg = /^([0-9A-F]{24})(\.partial)?$/.exec(file);
  if (seg) {
    const h = segmentHeader(data);
    if (!h) return `${data.length} bytes without a WAL page header`;
    const sizeOk = h.segSize >= 1 << 20 && h.segSize <= 1 << 30 && (h.segSize & (h.segSize - 1)) === 0;
    if (!sizeOk) return `its header declares a segment size of ${h.segSize} bytes`;
    if (data.length !== h.segSize) return `${data.length} bytes; a segment of this cluster is ${h.segSize}`;
    if (h.sysid !== sysid) return `it belongs to cluster ${h.sysid}`;
    const { tli, segno } = parseSegment(seg[1]!, h.segSize);
    if (h.tli !== tli) return `its header says timeline ${h.tli}, its name ${tli}`;
    const at = data.readBigUInt64LE(8);
    if (at !== segno * BigInt(h.segSize)) return `its header says it starts at ${formatLsn(at)}, its name at ${formatLsn(segno * BigInt(h.segSize))}`;
    return undefined;
  }
  const text = data.toString('utf8');
  if (file.endsWith('.history')) {
    const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    if (lines.length === 0 || !lines.every((l) => /^\s*\d+\s+[0-9A-Fa-f]+\/[0-9A-Fa-f]+/.test(l))) return 'not a timeline history file';
    return undefined;
  }
  if (file.endsWith('.backup') && !/^START WAL LOCATION: [0-9A-Fa-f]+\/[0-9A-Fa-f]+/.test(text)) return 'not a backup history file';
  return undefined;
}

export type PushOutcome = 'stored' | 'already-archived';

/** Archive one WAL file (the path PostgreSQL gives as %p). */
export async function pushWal(repo: Repository, path: string, opts: { sysid: string; signal?: AbortSignal }): Promise<PushOutcome> {
  const file = basename(path);
  const name = walObjectName(opts.sysid, file);
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new LifeboatError('IO', `cannot read WAL file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const problem = walProblem(file, data, opts.sysid);
  if (problem !== undefined) {
    throw new LifeboatError('USAGE', `${path} is not WAL file ${file} of cluster ${opts.sysid}: ${problem}; not archived`, {
      hint: problem.startsWith('it belongs to cluster') ? 'each cluster archives under its own system identifier; check --pgdata' : 'archive_command must pass %p, the file PostgreSQL finished writing',
    });
  }
  const sig = opts.signal ? { signal: opts.signal } : {};
  let exists = true;
  try {
    await repo.backend.stat({ type: 'wal', name }, sig);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    exists = false;
  }
  if (exists) {
    let stored: Buffer | undefined;
    try {
      stored = await repo.loadNamed('wal', name, sig);
    } catch {
      stored = undefined; // damaged: replace it with the good copy PostgreSQL still has
    }
    if (stored?.equals(data)) return 'already-archived';
    // What was stored is not this cluster's WAL (garbage pushed under its name by a build that did not
    // check): the real file replaces it.
    if (stored && walProblem(file, stored, opts.sysid) === undefined) {
      throw new LifeboatError('EXISTS', `WAL file ${file} of cluster ${opts.sysid} is already archived with different content; not overwritten`, {
        hint: 'another cluster with the same system identifier (a restored copy?) archives into this repository; give it its own repository',
      });
    }
  }
  await repo.saveNamed('wal', name, data, sig);
  return 'stored';
}

/** Restore one WAL file (name %f) to `dest` (%p). A file that is not archived is NOT_FOUND: recovery's "no more WAL". */
export async function fetchWal(repo: Repository, file: string, dest: string, opts: { sysid: string; signal?: AbortSignal }): Promise<void> {
  const name = walObjectName(opts.sysid, file);
  const data = await repo.loadNamed('wal', name, opts.signal ? { signal: opts.signal } : {});
  const temp = join(dirname(dest), `.${basename(dest)}.lifeboat-tmp`);
  writeFileSync(temp, data, { mode: 0o600 });
  renameSync(temp, dest);
}

export interface ArchivedWal {
  file: string;
  size: number;
}

/** Every archived file of a cluster, sorted by name (which sorts segments by timeline, then position). */
export async function listWal(repo: Repository, sysid: string, signal?: AbortSignal): Promise<ArchivedWal[]> {
  const prefix = `${sysid}-`;
  const out: ArchivedWal[] = [];
  for await (const f of repo.backend.list('wal', signal ? { signal } : {})) {
    if (f.name.startsWith(prefix)) out.push({ file: f.name.slice(prefix.length).replace(/_/g, '.'), size: f.size });
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** Clusters (system identifiers) with archived WAL. */
export async function listArchivedClusters(repo: Repository, signal?: AbortSignal): Promise<string[]> {
  const ids = new Set<string>();
  for await (const f of repo.backend.list('wal', signal ? { signal } : {})) {
    const m = /^(\d+)-/.exec(f.name);
    if (m) ids.add(m[1]!);
  }
  return [...ids].sort();
}

// ---- positions ----

/** An LSN ("16/B374D848") as a number of bytes. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) throw new LifeboatError('USAGE', `${lsn} is not an LSN (like 0/1A2B3C4D)`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

export function formatLsn(v: bigint): string {
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Segment number (position / segment size) and timeline of a segment file name. */
export function parseSegment(file: string, segSize: number): { tli: number; segno: bigint } {
  const perId = 0x100000000n / BigInt(segSize);
  return { tli: parseInt(file.slice(0, 8), 16), segno: BigInt('0x' + file.slice(8, 16)) * perId + BigInt('0x' + file.slice(16, 24)) };
}

export function segmentFile(tli: number, segno: bigint, segSize: number): string {
  const perId = 0x100000000n / BigInt(segSize);
  const hex = (v: bigint | number): string => v.toString(16).toUpperCase().padStart(8, '0');
  return hex(tli) + hex(segno / perId) + hex(segno % perId);
}

/** The segment holding an LSN. */
export function segmentOf(lsn: bigint, tli: number, segSize: number): string {
  return segmentFile(tli, lsn / BigInt(segSize), segSize);
}

/** A timeline history file: the timelines before it, each with the LSN where it was left. */
export function parseHistory(text: string): Array<{ tli: number; end: bigint }> {
  const out: Array<{ tli: number; end: bigint }> = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+([0-9A-Fa-f]+\/[0-9A-Fa-f]+)/.exec(line);
    if (m) out.push({ tli: Number(m[1]), end: parseLsn(m[2]!) });
  }
  return out;
}

export interface WalGap {
  /** The first missing segment and the last one of the gap. */
  from: string;
  to: string;
  /** Why this stretch is needed. */
  reason: string;
}

/**
 * Missing segments between `start` (the oldest position some base backup needs) and the newest archived
 * segment, following the timeline history: on each timeline from where it began to where it was left.
 */
export async function findGaps(repo: Repository, sysid: string, start: { lsn: bigint; tli: number }, segSize: number, signal?: AbortSignal): Promise<WalGap[]> {
  const files = await listWal(repo, sysid, signal);
  const segs = files.filter((f) => segmentName.test(f.file)).map((f) => ({ file: f.file, ...parseSegment(f.file, segSize) }));
  const partial = new Set(files.filter((f) => f.file.endsWith('.partial')).map((f) => f.file.slice(0, 24)));
  if (segs.length === 0) return [{ from: segmentOf(start.lsn, start.tli, segSize), to: segmentOf(start.lsn, start.tli, segSize), reason: 'no WAL archived at all' }];
  const latestTli = Math.max(start.tli, ...segs.map((s) => s.tli));
  // The path of timelines leading to the latest: from its history file (if any).
  let path: Array<{ tli: number; end: bigint }> = [];
  if (latestTli > 1) {
    const hist = files.find((f) => f.file === `${latestTli.toString(16).toUpperCase().padStart(8, '0')}.history`);
    if (hist) path = parseHistory((await repo.loadNamed('wal', walObjectName(sysid, hist.file), signal ? { signal } : {})).toString('utf8'));
  }
  const have = new Set(segs.map((s) => s.file));
  const last = segs.filter((s) => s.tli === latestTli).reduce((m, s) => (s.segno > m ? s.segno : m), -1n);
  const gaps: WalGap[] = [];
  let pos = start.lsn / BigInt(segSize);
  const stretches: Array<{ tli: number; endSeg: bigint }> = [];
  for (const h of path) if (h.tli >= start.tli) stretches.push({ tli: h.tli, endSeg: h.end / BigInt(segSize) });
  stretches.push({ tli: latestTli, endSeg: last });
  for (const st of stretches) {
    let gapStart: bigint | undefined;
    for (let s = pos; s <= st.endSeg; s++) {
      const f = segmentFile(st.tli, s, segSize);
      // The segment where a timeline was left may be archived as .partial, or only on the next timeline.
      const ok = have.has(f) || partial.has(f) || (s === st.endSeg && st.tli !== latestTli);
      if (!ok && gapStart === undefined) gapStart = s;
      if (ok && gapStart !== undefined) {
        gaps.push({ from: segmentFile(st.tli, gapStart, segSize), to: segmentFile(st.tli, s - 1n, segSize), reason: `timeline ${st.tli}` });
        gapStart = undefined;
      }
    }
    if (gapStart !== undefined) gaps.push({ from: segmentFile(st.tli, gapStart, segSize), to: segmentFile(st.tli, st.endSeg, segSize), reason: `timeline ${st.tli}` });
    pos = st.endSeg;
  }
  return gaps;
}

/**
 * Remove archived segments (and backup labels) wholly before `keepFrom`, the start of the oldest base
 * backup that is kept. History files are always kept (they are tiny and recovery needs them).
 */
export async function removeWalBefore(repo: Repository, sysid: string, keepFrom: { lsn: bigint }, segSize: number, opts: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<string[]> {
  const files = await listWal(repo, sysid, opts.signal);
  const firstKept = keepFrom.lsn / BigInt(segSize);
  const removed: string[] = [];
  for (const f of files) {
    const seg = f.file.slice(0, 24);
    if (!/^[0-9A-F]{24}$/.test(seg)) continue; // history files
    if (parseSegment(seg, segSize).segno >= firstKept) continue;
    if (!opts.dryRun) await repo.backend.remove({ type: 'wal', name: walObjectName(sysid, f.file) }, opts.signal ? { signal: opts.signal } : {});
    removed.push(f.file);
  }
  return removed;
}
