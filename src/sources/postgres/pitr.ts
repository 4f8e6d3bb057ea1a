/**
 * Point-in-time recovery: a base backup written out as a data directory, set up to replay archived WAL
 * (restore_command = `lifeboat wal fetch`) up to a time, an LSN or a named restore point, then promote.
 *
 * Before anything is written the target is checked against what the repository can reach: not before the
 * oldest base backup's end (the first consistent point), not after the last commit in the archive (read
 * from the newest segments with pg_waldump). Outside that range the request is refused with the range.
 */
import { chownSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LifeboatError, run } from '../../core/index.ts';
import { loadSnapshots, type Repository, type SnapshotEntry } from '../../repo/index.ts';
import { restoreFiles, type RestoreProgress, type RestoreResult, type RestoreWarning } from '../files/index.ts';
import { physicalSource, type PhysicalSource } from './physical.ts';
import { pgTool } from './pgtools.ts';
import { fetchWal, findGaps, formatLsn, listWal, parseLsn, parseSegment, removeWalBefore, walObjectName, walProblem } from './wal.ts';


export interface RecoveryTarget {
  /** A time; without a zone it is this machine's local time. */
  time?: string;
  lsn?: string;
  restorePoint?: string;
}

export interface PitrOptions extends RecoveryTarget {
  /** The data directory to write (must be missing or empty). */
  target: string;
  /** The base backup to start from; default: the newest one that ends before the target. */
  snapshot?: SnapshotEntry;
  /** The command PostgreSQL runs to fetch WAL; %f and %p as in restore_command. */
  restoreCommand: string;
  /**
   * Keep the restored cluster archiving as the original did (into this repository). Off by default: a
   * drill or a side-by-side copy must not push its new timeline into the production archive, where a later
   * recovery to "latest" would follow it.
   */
  keepArchiving?: boolean;
  signal?: AbortSignal;
  progress?: RestoreProgress;
  onWarning?: (w: RestoreWarning) => void;
}

export interface ArchiveRange {
  system_identifier: string;
  /** Earliest reachable point: the end of the oldest base backup. */
  from_time: string;
  from_lsn: string;
  /** Latest reachable point: the last transaction end in the archive. */
  to_time: string | undefined;
  to_lsn: string | undefined;
  base_backups: number;
}

export interface PitrResult {
  base: SnapshotEntry;
  range: ArchiveRange;
  restore: RestoreResult;
  /** The settings written to postgresql.auto.conf. */
  settings: Record<string, string>;
}

/** Microseconds since the epoch of a PostgreSQL-style or ISO time; a missing zone means local time. */
export function parseTime(text: string): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i.exec(text.trim());
  if (!m) throw new LifeboatError('USAGE', `"${text}" is not a time`, { hint: 'write it like 2026-11-30 14:05:00, 2026-11-30T14:05:00.25+01:00 or ... UTC' });
  const [, y, mo, d, h, mi, s = '0', frac = '', zone] = m;
  // Date would roll 2026-11-37 over into December, 40:52 into the next day: a time that does not exist is
  // refused, not moved.
  const days = [31, Number(y) % 4 === 0 && (Number(y) % 100 !== 0 || Number(y) % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  const bad = (what: string): never => {
    throw new LifeboatError('USAGE', `"${text}" is not a time: ${what}`, { hint: 'write it like 2026-11-30 14:05:00, 2026-11-30T14:05:00.25+01:00 or ... UTC' });
  };
  if (Number(mo) < 1 || Number(mo) > 12) bad(`month ${mo}`);
  if (Number(d) < 1 || Number(d) > days[Number(mo) - 1]!) bad(`day ${d} of month ${mo}`);
  if (Number(h) > 23) bad(`hour ${h}`);
  if (Number(mi) > 59) bad(`minute ${mi}`);
  if (Number(s) > 59) bad(`second ${s}`);
  const zm = zone !== undefined ? /^[+-](\d{2}):?(\d{2})?$/.exec(zone) : null;
  if (zm && (Number(zm[1]) > 15 || Number(zm[2] ?? 0) > 59)) bad(`offset ${zone}`);
  const frac6 = BigInt((frac + '000000').slice(0, 6));
  let ms: number;
  if (!zone) {
    ms = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime();
  } else {
    let off = 0;
    if (/^[+-]/.test(zone)) {
      const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
      off = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
    }
    ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) - off * 60_000;
  }
  if (Number.isNaN(ms)) throw new LifeboatError('USAGE', `"${text}" is not a valid time`);
  return BigInt(ms) * 1000n + frac6;
}

/** A time as PostgreSQL reads it unambiguously: UTC with microseconds. */
export function formatTime(us: bigint): string {
  const iso = new Date(Number(us / 1000n)).toISOString(); // 2026-11-30T02:05:46.548Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${(us % 1000000n).toString().padStart(6, '0')}+00`;
}

/** The base backups of one cluster, oldest first. */
export async function baseBackups(repo: Repository, sysid?: string, signal?: AbortSignal): Promise<Array<{ snap: SnapshotEntry; src: PhysicalSource }>> {
  const all = (await loadSnapshots(repo, { onError: () => undefined, ...(signal ? { signal } : {}) }))
    .map((snap) => ({ snap, src: physicalSource(snap) }))
    .filter((x): x is { snap: SnapshotEntry; src: PhysicalSource } => x.src !== undefined);
  const ids = [...new Set(all.map((x) => x.src.system_identifier))];
  if (sysid === undefined && ids.length > 1) {
    throw new LifeboatError('AMBIGUOUS', `base backups of ${ids.length} clusters are in this repository (${ids.join(', ')})`, {
      hint: 'name a base backup snapshot of the cluster you want (lifeboat snapshots)',
    });
  }
  return all.filter((x) => sysid === undefined || x.src.system_identifier === sysid).sort((a, b) => (parseTime(a.src.stop_time) < parseTime(b.src.stop_time) ? -1 : 1));
}

/** The last transaction end (time and LSN) in the archive of a cluster, from its newest segments. */
export async function archiveEnd(repo: Repository, sysid: string, signal?: AbortSignal): Promise<{ time?: string; lsn?: string }> {
  const segs = (await listWal(repo, sysid, signal)).filter((f) => /^[0-9A-F]{24}$/.test(f.file));
  if (segs.length === 0) return {};
  const latestTli = segs[segs.length - 1]!.file.slice(0, 8);
  const onTli = segs.filter((f) => f.file.startsWith(latestTli));
  const work = mkdtempSync(join(tmpdir(), 'lifeboat-waldump-'));
  let lastLsn: string | undefined;
  try {
    // Walk back from the newest segment until one holds a transaction end (a quiet server writes segments
    // with only checkpoints); stop after 16.
    for (let i = onTli.length - 1; i >= 0 && i >= onTli.length - 16; i--) {
      const file = onTli[i]!.file;
      await fetchWal(repo, file, join(work, file), { sysid, ...(signal ? { signal } : {}) });
      const r = await run(pgTool('pg_waldump'), ['-p', work, file], { env: { ...process.env, TZ: 'UTC' }, timeoutMs: 120_000, ...(signal ? { signal } : {}) });
      const lines = r.stdout.toString('utf8').split('\n');
      for (let j = lines.length - 1; j >= 0; j--) {
        const line = lines[j]!;
        const lsn = /lsn: ([0-9A-F]+\/[0-9A-F]+)/.exec(line)?.[1];
        if (lsn && lastLsn === undefined) lastLsn = lsn;
        const t = /desc: (?:COMMIT|ABORT)(?:_PREPARED)? (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC/.exec(line)?.[1];
        if (t) return { time: `${t}+00`, ...(lastLsn ? { lsn: lastLsn } : {}) };
      }
      rmSync(join(work, file), { force: true });
    }
    return lastLsn ? { lsn: lastLsn } : {};
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export async function archiveRange(repo: Repository, bases: Array<{ src: PhysicalSource }>, signal?: AbortSignal): Promise<ArchiveRange> {
  const first = bases[0]!.src;
  const end = await archiveEnd(repo, first.system_identifier, signal);
  return {
    system_identifier: first.system_identifier,
    from_time: formatTime(parseTime(first.stop_time)),
    from_lsn: first.stop_lsn,
    to_time: end.time,
    to_lsn: end.lsn,
    base_backups: bases.length,
  };
}

function rangeText(r: ArchiveRange, by: 'time' | 'lsn'): string {
  return by === 'time' ? `from ${r.from_time} to ${r.to_time ?? '(no transaction in the archive yet)'}` : `from ${r.from_lsn} to ${r.to_lsn ?? '(empty archive)'}`;
}

export async function restorePostgresCluster(repo: Repository, opts: PitrOptions): Promise<PitrResult> {
  const given = opts.snapshot ? physicalSource(opts.snapshot) : undefined;
  if (opts.snapshot && !given) {
    throw new LifeboatError('USAGE', `snapshot ${opts.snapshot.short_id} is not a PostgreSQL base backup`, { hint: 'a pg_dump snapshot is restored with --postgres CONN' });
  }
  const targets = [opts.time, opts.lsn, opts.restorePoint].filter((x) => x !== undefined).length;
  if (targets > 1) throw new LifeboatError('USAGE', 'give one of --pitr TIME, --lsn LSN, --restore-point NAME');
  const bases = await baseBackups(repo, given?.system_identifier, opts.signal);
  if (bases.length === 0) {
    throw new LifeboatError('NOT_FOUND', 'no PostgreSQL base backup in this repository', { hint: 'take one with `lifeboat backup --postgres CONN --physical`' });
  }
  const range = await archiveRange(repo, bases, opts.signal);
  let base = opts.snapshot && given ? { snap: opts.snapshot, src: given } : undefined;
  const settings: Record<string, string> = { restore_command: opts.restoreCommand, recovery_target_timeline: 'latest' };
  if (opts.time !== undefined) {
    const t = parseTime(opts.time);
    const refuse = (why: string): never => {
      throw new LifeboatError('OUT_OF_RANGE', `cannot recover to ${formatTime(t)}: ${why}; available ${rangeText(range, 'time')}`, {
        hint: why.includes('after the last')
          ? 'the newest WAL may not be archived yet: run SELECT pg_switch_wal() on the server, wait for the archive, and try again'
          : 'choose a time inside the available range',
      });
    };
    if (t < parseTime(range.from_time)) refuse('it is before the end of the oldest base backup');
    if (range.to_time === undefined || t > parseTime(range.to_time)) refuse('it is after the last transaction in the WAL archive');
    if (base && parseTime(base.src.stop_time) > t) refuse(`it is before the end of base backup ${base.snap.short_id}`);
    base ??= [...bases].reverse().find((b) => parseTime(b.src.stop_time) <= t)!;
    settings['recovery_target_time'] = formatTime(t);
  } else if (opts.lsn !== undefined) {
    const l = parseLsn(opts.lsn);
    const refuse = (why: string): never => {
      throw new LifeboatError('OUT_OF_RANGE', `cannot recover to LSN ${formatLsn(l)}: ${why}; available ${rangeText(range, 'lsn')}`);
    };
    if (l < parseLsn(range.from_lsn)) refuse('it is before the end of the oldest base backup');
    if (range.to_lsn === undefined || l > parseLsn(range.to_lsn)) refuse('it is after the end of the WAL archive');
    base ??= [...bases].reverse().find((b) => parseLsn(b.src.stop_lsn) <= l)!;
    settings['recovery_target_lsn'] = formatLsn(l);
  } else if (opts.restorePoint !== undefined) {
    // Where a named point lies is only known by reading the WAL: start from the oldest base backup (or
    // the one given), which reaches every point after it.
    base ??= bases[0]!;
    settings['recovery_target_name'] = opts.restorePoint;
  } else {
    base ??= bases[bases.length - 1]!;
    settings['recovery_target'] = 'immediate';
  }
  if (opts.time !== undefined || opts.lsn !== undefined || opts.restorePoint !== undefined) {
    settings['recovery_target_inclusive'] = 'true';
    await refuseUnreachable(repo, base.src, opts, opts.signal);
  }
  settings['recovery_target_action'] = 'promote';
  if (!opts.keepArchiving) settings['archive_mode'] = 'off';
  checkEmptyTarget(opts.target);
  const restore = await restoreFiles(repo, base.snap, {
    target: opts.target,
    strip: base.src.data_directory,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.progress ? { progress: opts.progress } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
  if (restore.warnings.length) {
    throw new LifeboatError('INTEGRITY', `the base backup ${base.snap.short_id} could not be restored whole (${restore.warnings.length} problems, first: ${restore.warnings[0]!.path}: ${restore.warnings[0]!.message})`, {
      hint: 'run `lifeboat check --read-data`; an older base backup may restore',
    });
  }
  writeRecoveryFiles(opts.target, base.src, settings);
  return { base: base.snap, range, restore, settings };
}

/**
 * Recovery from `base` replays the archive until the target or the first missing segment: a target past a
 * gap (or a restore point that is nowhere in the WAL) would start a server that stops with FATAL "recovery
 * ended before configured recovery target was reached". Refused here, with the range that is reachable.
 */
async function refuseUnreachable(repo: Repository, base: PhysicalSource, opts: PitrOptions, signal?: AbortSignal): Promise<void> {
  const seg = base.wal_segment_size;
  const gaps = await findGaps(repo, base.system_identifier, { lsn: parseLsn(base.start_lsn), tli: base.timeline }, seg, signal);
  // Where replay stops: the start of the first missing segment (or the archive's end).
  const gap = gaps[0];
  const stopLsn = gap ? parseSegment(gap.from, seg).segno * BigInt(seg) : undefined;
  const missing = gap ? `the WAL archive lacks ${gap.from === gap.to ? gap.from : `${gap.from} .. ${gap.to}`} (${gap.reason})` : '';
  const refuse = (what: string, reachable: string): never => {
    throw new LifeboatError('OUT_OF_RANGE', `cannot recover to ${what}: ${missing || 'it is not in the WAL archive'}; from base backup its recovery reaches ${reachable}`, {
      hint: gap ? 'choose a point before the gap; `lifeboat check` lists what is missing' : 'give a restore point created with pg_create_restore_point() after the base backup',
      context: { gaps },
    });
  };
  if (stopLsn !== undefined && opts.lsn !== undefined && parseLsn(opts.lsn) >= stopLsn) {
    refuse(`LSN ${formatLsn(parseLsn(opts.lsn))}`, `from ${base.stop_lsn} to ${formatLsn(stopLsn)}`);
  }
  if (stopLsn !== undefined && opts.time !== undefined) {
    const end = await lastCommitBefore(repo, base.system_identifier, stopLsn, seg, signal);
    if (end === undefined || parseTime(opts.time) > parseTime(end)) {
      refuse(formatTime(parseTime(opts.time)), `from ${formatTime(parseTime(base.stop_time))} to ${end ?? `LSN ${formatLsn(stopLsn)} (no transaction before it)`}`);
    }
  }
  if (opts.restorePoint !== undefined && !(await restorePointIn(repo, base, opts.restorePoint, stopLsn, signal))) {
    refuse(`restore point "${opts.restorePoint}"`, stopLsn !== undefined ? `LSN ${formatLsn(stopLsn)}` : 'the end of the archive, without meeting it');
  }
}

/** pg_waldump's output for one archived segment (fetched into `work`, removed after). */
async function waldump(repo: Repository, sysid: string, file: string, work: string, args: string[], signal?: AbortSignal): Promise<string[]> {
  await fetchWal(repo, file, join(work, file), { sysid, ...(signal ? { signal } : {}) });
  try {
    const r = await run(pgTool('pg_waldump'), [...args, '-p', work, file], { env: { ...process.env, TZ: 'UTC' }, timeoutMs: 120_000, ...(signal ? { signal } : {}) });
    return r.stdout.toString('utf8').split('\n');
  } finally {
    rmSync(join(work, file), { force: true });
  }
}

/** The time of the last transaction end before `stop`, from the segments before it (at most 16). */
async function lastCommitBefore(repo: Repository, sysid: string, stop: bigint, seg: number, signal?: AbortSignal): Promise<string | undefined> {
  const segs = (await listWal(repo, sysid, signal)).map((f) => f.file).filter((f) => /^[0-9A-F]{24}$/.test(f) && parseSegment(f, seg).segno * BigInt(seg) < stop);
  const work = mkdtempSync(join(tmpdir(), 'lifeboat-waldump-'));
  try {
    for (let i = segs.length - 1; i >= 0 && i >= segs.length - 16; i--) {
      const lines = await waldump(repo, sysid, segs[i]!, work, [], signal);
      for (let j = lines.length - 1; j >= 0; j--) {
        const t = /desc: (?:COMMIT|ABORT)(?:_PREPARED)? (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC/.exec(lines[j]!)?.[1];
        if (t) return `${t}+00`;
      }
    }
    return undefined;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Whether a restore point named `name` was created after `base`'s start and before `stop` (the XLOG records only). */
async function restorePointIn(repo: Repository, base: PhysicalSource, name: string, stop: bigint | undefined, signal?: AbortSignal): Promise<boolean> {
  const seg = base.wal_segment_size;
  const from = parseLsn(base.start_lsn) / BigInt(seg);
  const segs = (await listWal(repo, base.system_identifier, signal))
    .map((f) => f.file)
    .filter((f) => /^[0-9A-F]{24}$/.test(f))
    .filter((f) => {
      const n = parseSegment(f, seg).segno;
      return n >= from && (stop === undefined || n * BigInt(seg) < stop);
    });
  const work = mkdtempSync(join(tmpdir(), 'lifeboat-waldump-'));
  try {
    for (const f of segs) {
      const lines = await waldump(repo, base.system_identifier, f, work, ['-r', 'XLOG'], signal);
      if (lines.some((l) => l.trimEnd().endsWith(`desc: RESTORE_POINT ${name}`))) return true;
    }
    return false;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function checkEmptyTarget(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return; // missing: made by the restore
  }
  if (entries.length > 0) {
    throw new LifeboatError('EXISTS', `${dir} is not empty; a data directory is restored into a new or empty folder`, {
      hint: 'stop the server and move the old data directory aside first, or restore into a new folder',
    });
  }
}

/** backup_label, tablespace_map, recovery.signal and the recovery settings, owned like the data directory. */
function writeRecoveryFiles(dir: string, src: PhysicalSource, settings: Record<string, string>): void {
  const st = lstatSync(dir);
  const own = (p: string): void => {
    try {
      chownSync(p, st.uid, st.gid);
    } catch {
      /* not root: the files are ours, as is the folder */
    }
  };
  const write = (name: string, text: string): void => {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    own(join(dir, name));
  };
  write('backup_label', src.backup_label);
  if (src.tablespace_map) write('tablespace_map', src.tablespace_map);
  write('recovery.signal', '');
  const q = (v: string): string => `'${v.replace(/'/g, "''")}'`;
  const lines = Object.entries(settings).map(([k, v]) => `${k} = ${q(v)}`);
  appendFileSync(join(dir, 'postgresql.auto.conf'), `\n# written by lifeboat restore (${new Date().toISOString()})\n${lines.join('\n')}\n`, { mode: 0o600 });
  own(join(dir, 'postgresql.auto.conf'));
}

export interface WalArchiveHealth {
  system_identifier: string;
  files: number;
  base_backups: number;
  gaps: Array<{ from: string; to: string; reason: string }>;
  /** Files that failed to decrypt or verify (with readData). */
  damaged: Array<{ file: string; error: string }>;
}

/**
 * The WAL archive of every cluster with base backups: no segment missing from the oldest base backup's
 * start to the newest archived segment; with `readData`, every file decrypted and its checksum verified.
 */
export async function checkWalArchive(repo: Repository, opts: { readData?: boolean; signal?: AbortSignal } = {}): Promise<WalArchiveHealth[]> {
  const all = await loadSnapshots(repo, { onError: () => undefined, ...(opts.signal ? { signal: opts.signal } : {}) });
  const ids = [...new Set(all.map((s) => physicalSource(s)?.system_identifier).filter((x): x is string => x !== undefined))].sort();
  const out: WalArchiveHealth[] = [];
  for (const id of ids) {
    const bases = await baseBackups(repo, id, opts.signal);
    const oldest = bases[0]!.src;
    const files = await listWal(repo, id, opts.signal);
    const gaps = await findGaps(repo, id, { lsn: parseLsn(oldest.start_lsn), tli: oldest.timeline }, oldest.wal_segment_size, opts.signal);
    const damaged: WalArchiveHealth['damaged'] = [];
    if (opts.readData) {
      for (const f of files) {
        try {
          const data = await repo.loadNamed('wal', walObjectName(id, f.file), opts.signal ? { signal: opts.signal } : {});
          // Intact as stored, but is it WAL? (Older builds stored whatever was pushed under a segment's name.)
          const problem = walProblem(f.file, data, id);
          if (problem !== undefined) damaged.push({ file: f.file, error: `not WAL file ${f.file} of this cluster: ${problem}; the next push of the real file replaces it` });
        } catch (err) {
          damaged.push({ file: f.file, error: (err as Error).message });
        }
      }
    }
    out.push({ system_identifier: id, files: files.length, base_backups: bases.length, gaps, damaged });
  }
  return out;
}

/**
 * WAL retention: per cluster, remove archived WAL older than the start of the oldest base backup still
 * kept (run after forget). A cluster without base backups keeps its WAL (one may be in progress).
 */
export async function pruneWal(repo: Repository, opts: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<Array<{ system_identifier: string; removed: string[] }>> {
  const all = await loadSnapshots(repo, { onError: () => undefined, ...(opts.signal ? { signal: opts.signal } : {}) });
  const ids = [...new Set(all.map((s) => physicalSource(s)?.system_identifier).filter((x): x is string => x !== undefined))].sort();
  const out = [];
  for (const id of ids) {
    const bases = await baseBackups(repo, id, opts.signal);
    const oldest = bases.reduce((m, b) => (parseLsn(b.src.start_lsn) < parseLsn(m.src.start_lsn) ? b : m), bases[0]!).src;
    const removed = await removeWalBefore(repo, id, { lsn: parseLsn(oldest.start_lsn) }, oldest.wal_segment_size, opts);
    out.push({ system_identifier: id, removed });
  }
  return out;
}
