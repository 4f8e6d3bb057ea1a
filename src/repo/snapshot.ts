/**
 * Snapshots: recovery points. A snapshot file (`snapshots/<id>`, sealed JSON) names the root tree and
 * says when, where and what: time, host, paths, tags, the parent it was compared against, the source kind
 * and whether the point is crash- or application-consistent. Field names follow restic's JSON where they
 * exist, so scripts can move over.
 */
import { compareStrings, IntegrityError, LifeboatError, NotFoundError } from '../core/index.ts';
import { mapLimit, type Repository } from './repository.ts';

export interface SnapshotSummary {
  backup_start: string;
  backup_end: string;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_blobs: number;
  tree_blobs: number;
  data_added: number;
  data_added_packed: number;
  total_files_processed: number;
  total_bytes_processed: number;
  errors: number;
}

export interface Snapshot {
  time: string;
  tree: string;
  paths: string[];
  hostname: string;
  username: string;
  uid?: number;
  gid?: number;
  tags?: string[];
  /** The protection group the snapshot was taken for (one snapshot per member per run). */
  group?: string;
  parent?: string;
  excludes?: string[];
  program_version: string;
  source: { kind: string; [k: string]: unknown };
  consistency: 'crash' | 'application';
  summary?: SnapshotSummary;
  /** Hook commands run around the backup, and how they ended. */
  hooks?: { pre?: HookRun; post?: HookRun };
  /** A snapshot `repair snapshots` wrote: the id of the one it replaces. */
  original?: string;
  /** What `repair snapshots` left out of this snapshot (at most 1,000 paths listed). */
  repair?: { time: string; lost_count: number; lost: Array<{ path: string; reason: string }>; converted?: string[] };
}

export interface HookRun {
  command: string;
  ran: boolean;
  exit_code: number | null;
  timed_out: boolean;
  duration_ms: number;
  error?: string;
}

export interface SnapshotEntry extends Snapshot {
  id: string;
  short_id: string;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

function validateSnapshot(s: Snapshot, id: string): void {
  const ok =
    typeof s === 'object' &&
    s !== null &&
    typeof s.time === 'string' &&
    !Number.isNaN(Date.parse(s.time)) &&
    typeof s.tree === 'string' &&
    /^[0-9a-f]{64}$/.test(s.tree) &&
    Array.isArray(s.paths) &&
    s.paths.every((p) => typeof p === 'string') &&
    typeof s.hostname === 'string' &&
    (s.tags === undefined || (Array.isArray(s.tags) && s.tags.every((t) => typeof t === 'string')));
  if (!ok) throw new IntegrityError(`snapshot ${id}: not a valid snapshot document`);
}

export async function saveSnapshot(repo: Repository, snap: Snapshot, signal?: AbortSignal): Promise<string> {
  return repo.saveJson('snapshot', snap, signal ? { signal } : {});
}

/** Every snapshot, oldest first. Damaged snapshot files are reported through `onError` and skipped. */
export async function loadSnapshots(
  repo: Repository,
  opts: { signal?: AbortSignal; onError?: (id: string, err: unknown) => void } = {},
): Promise<SnapshotEntry[]> {
  const names = await repo.listNames('snapshot', opts.signal);
  const out: SnapshotEntry[] = [];
  await mapLimit(names, 8, async (id) => {
    try {
      const s = await repo.loadJson<Snapshot>('snapshot', id, opts.signal ? { signal: opts.signal } : {});
      validateSnapshot(s, id);
      out.push({ ...s, id, short_id: shortId(id) });
    } catch (err) {
      // Forgotten between the listing and the read (forget shares the repository): not there, not damaged.
      if (err instanceof NotFoundError) return;
      if (opts.onError) opts.onError(id, err);
      else throw err;
    }
  });
  return out.sort((a, b) => compareStrings(a.time, b.time) || compareStrings(a.id, b.id));
}

export interface SnapshotFilter {
  host?: string[];
  paths?: string[];
  tags?: string[];
  group?: string;
}

export function matchesFilter(s: Snapshot, f: SnapshotFilter): boolean {
  if (f.host?.length && !f.host.includes(s.hostname)) return false;
  if (f.paths?.length && !f.paths.every((p) => s.paths.includes(p))) return false;
  if (f.tags?.length && !f.tags.every((t) => s.tags?.includes(t))) return false;
  if (f.group !== undefined && s.group !== f.group) return false;
  return true;
}

/**
 * Resolve `latest`, a full id or a unique prefix of at least 4 characters. `damaged`: names of snapshot
 * files that could not be read (see loadSnapshots' onError): a reference that only they could answer is an
 * integrity problem, not a snapshot that does not exist.
 */
export function resolveSnapshot(all: SnapshotEntry[], ref: string, filter: SnapshotFilter = {}, damaged: readonly string[] = []): SnapshotEntry {
  const pool = all.filter((s) => matchesFilter(s, filter));
  if (ref === 'latest') {
    const last = pool[pool.length - 1];
    if (!last) {
      if (damaged.length > 0) throw damagedError(damaged, `no readable snapshot matches, and ${damaged.length} snapshot file(s) are damaged`);
      throw new NotFoundError('no snapshot matches', { hint: 'list them with `lifeboat snapshots`' });
    }
    return last;
  }
  if (!/^[0-9a-f]{4,64}$/.test(ref)) {
    throw new LifeboatError('USAGE', `"${ref}" is not a snapshot id`, { hint: 'use `latest`, an id, or a unique prefix of one (at least 4 characters)' });
  }
  const hits = pool.filter((s) => s.id.startsWith(ref));
  if (hits.length === 0) {
    const bad = damaged.filter((id) => id.startsWith(ref));
    if (bad.length > 0) throw damagedError(bad, `snapshot ${shortId(bad[0]!)} is damaged and cannot be read`);
    throw new NotFoundError(`no snapshot ${ref}`, { hint: 'list them with `lifeboat snapshots`' });
  }
  if (hits.length > 1) throw new LifeboatError('AMBIGUOUS', `snapshot prefix ${ref} matches ${hits.length} snapshots`, { hint: 'give more characters of the id' });
  return hits[0]!;
}

function damagedError(ids: readonly string[], message: string): IntegrityError {
  return new IntegrityError(message, {
    context: { damaged: [...ids] },
    hint: '`lifeboat check` names what is damaged; `lifeboat forget ID` removes a damaged snapshot file, `lifeboat snapshots` lists the readable ones',
  });
}
