/**
 * Retention: which snapshots `lifeboat forget` keeps. Pure functions over snapshot metadata; nothing here
 * reads the repository, and time comes from the injected `Clock`.
 *
 * The semantics are restic's `forget --keep-*` (internal/restic/snapshot_policy.go), so a restic user's
 * scripts and expectations carry over:
 *
 * - Snapshots are first split into groups (by default host + paths, `groupSnapshots`); the policy is
 *   applied to each group on its own, so one host's backups never push out another's.
 * - Within a group, snapshots are sorted newest first. Each bucket rule (last, hourly, daily, weekly,
 *   monthly, yearly) walks that list and keeps a snapshot whenever it is the first (newest) one seen in a
 *   new bucket (hour, day, ISO week, ...), until that rule's count is used up. `last` puts every snapshot in
 *   a bucket of its own. A count of -1 means "every bucket"; 0 or absent means the rule is off.
 * - When a rule still has counts left at the oldest snapshot of the group, that snapshot is kept too (reason
 *   "oldest daily snapshot" etc.), even if it shares a bucket with a newer kept one. This is restic >= 0.17:
 *   with fewer buckets than the count allows, it keeps the longest history possible.
 * - `within` keeps every snapshot strictly newer than (newest snapshot − duration). Like restic, the reference
 *   is the newest snapshot, not "now": a host that stopped backing up a month ago does not lose its last
 *   `--keep-within 7d` week of history on the next forget. The clock is used only for restic's one guard:
 *   snapshots dated in the future (a wrong clock on the backed-up host) are ignored when choosing that
 *   reference, so one bad timestamp cannot make `within` drop everything else. If every snapshot is in the
 *   future there is no reference and `within` keeps them all (restic does the same).
 * - `tags` keeps every snapshot carrying all tags of at least one of the given sets; it uses no counts.
 *   As in restic, a set holding the empty tag `''` matches snapshots that have no tags at all.
 *
 * Where Lifeboat deliberately differs: a policy with no rule at all is refused (restic keeps everything and
 * says so; a forget that does nothing is almost always a mistake in a script), bad counts and durations are
 * USAGE errors, and buckets are computed in UTC by default (restic uses each snapshot's recorded zone) so
 * the outcome does not depend on the machine running forget; `tz: 'local'` uses the local zone instead.
 */
import { LifeboatError } from '../core/index.ts';
import type { Clock } from '../core/index.ts';

export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** A duration like '1y2m3d4h' (restic's --keep-within): y years, m months, d days, h hours. */
  within?: string;
  /** Keep snapshots having all tags of any one set (restic's --keep-tag, one set per flag). */
  tags?: string[][];
}

export interface SnapshotLike {
  id: string;
  /** ISO 8601 with an offset, e.g. 2024-05-01T03:00:00.123Z. */
  time: string;
  hostname: string;
  paths: string[];
  tags?: string[];
}

export interface Duration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

export type RetentionTimeZone = 'UTC' | 'local';

export interface KeptSnapshot<T> {
  snapshot: T;
  /** Why it is kept, in rule order: 'has tags [a, b]', 'within 7d', 'last snapshot', 'daily snapshot', ... */
  reasons: string[];
}

/** Both lists newest first. */
export interface PolicyResult<T> {
  keep: KeptSnapshot<T>[];
  remove: T[];
}

export interface GroupBy {
  host: boolean;
  paths: boolean;
  tags: boolean;
}

/** Only the fields grouped by are present; paths and tags are sorted. */
export interface SnapshotGroupKey {
  hostname?: string;
  paths?: string[];
  tags?: string[];
}

export interface SnapshotGroup<T> {
  key: SnapshotGroupKey;
  snapshots: T[];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const durationHint =
  'write a duration as numbers with units y (years), m (months), d (days), h (hours), e.g. `1y6m` or `7d12h`';

/**
 * Parses a restic-style duration such as '1y2m3d4h'. Units may come in any order, each at most once; note
 * that `m` is months, not minutes. Zero ('0d') is valid and means "no duration".
 */
export function parseDuration(s: string): Duration {
  const input = s.trim();
  const bad = (why: string): LifeboatError =>
    new LifeboatError('USAGE', `invalid duration ${JSON.stringify(s)}: ${why}`, { hint: durationHint });
  if (input === '') throw bad('it is empty');
  const d: Duration = { years: 0, months: 0, days: 0, hours: 0 };
  const field = { y: 'years', m: 'months', d: 'days', h: 'hours' } as const;
  const seen = new Set<string>();
  const part = /(\d+)(\D?)/y;
  let at = 0;
  while (at < input.length) {
    part.lastIndex = at;
    const m = part.exec(input);
    if (m === null) {
      const c = input[at];
      throw bad(c === '-' ? 'negative durations are not allowed' : `expected a number at ${JSON.stringify(input.slice(at))}`);
    }
    const [, digits = '', unit = ''] = m;
    if (unit === '' || unit === ' ') throw bad(`no unit after ${digits}`);
    if (unit === '.' || unit === ',') throw bad('only whole numbers are allowed; use a smaller unit, e.g. `36h`');
    if (!(unit in field)) throw bad(`unknown unit ${JSON.stringify(unit)} after ${digits}`);
    if (seen.has(unit)) throw bad(`unit ${JSON.stringify(unit)} given twice`);
    seen.add(unit);
    const n = Number(digits);
    if (!Number.isSafeInteger(n)) throw bad(`${digits} is too large`);
    d[field[unit as keyof typeof field]] = n;
    at = part.lastIndex;
  }
  return d;
}

/** The canonical form restic prints: '1y2m3d4h', zero parts left out. */
export function formatDuration(d: Duration): string {
  const s = `${d.years ? `${d.years}y` : ''}${d.months ? `${d.months}m` : ''}${d.days ? `${d.days}d` : ''}${d.hours ? `${d.hours}h` : ''}`;
  return s === '' ? '0h' : s;
}

function durationIsZero(d: Duration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

const bucketRules = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
type BucketRule = (typeof bucketRules)[number];

/**
 * True when the policy names no rule at all: every count is 0 or absent, `within` is absent or zero, and
 * there are no tag sets. Throws USAGE if `within` is not a valid duration.
 */
export function policyIsEmpty(p: RetentionPolicy): boolean {
  if (bucketRules.some((r) => (p[r] ?? 0) !== 0)) return false;
  if (p.within !== undefined && !durationIsZero(parseDuration(p.within))) return false;
  return (p.tags ?? []).length === 0;
}

function validatePolicy(p: RetentionPolicy): void {
  for (const r of bucketRules) {
    const n = p[r];
    if (n !== undefined && !(Number.isSafeInteger(n) && n >= -1)) {
      throw new LifeboatError('USAGE', `keep-${r} must be a whole number of snapshots, or -1 for all; got ${n}`, {
        context: { rule: r, value: n },
      });
    }
  }
  if (policyIsEmpty(p)) {
    throw new LifeboatError('USAGE', 'refusing to forget every snapshot: no keep rule given', {
      hint:
        'name at least one rule, e.g. `lifeboat forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12`, ' +
        'or remove chosen snapshots with `lifeboat forget <snapshot-id>`',
    });
  }
}

/** restic's format for a tag set in a reason: '[a, b]'. */
function tagSetLabel(set: string[]): string {
  return `[${set.join(', ')}]`;
}

function hasTags(snap: SnapshotLike, set: string[]): boolean {
  const tags = snap.tags ?? [];
  for (const t of set) {
    if (t === '' && tags.length === 0) return true;
    if (!tags.includes(t)) return false;
  }
  return true;
}

const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch. An offset is required: without one the instant would depend on the machine. */
function snapshotTime(snap: SnapshotLike): number {
  const ms = isoTime.test(snap.time) ? Date.parse(snap.time) : NaN;
  if (Number.isNaN(ms)) {
    throw new LifeboatError('CORRUPT', `snapshot ${snap.id}: time ${JSON.stringify(snap.time)} is not an ISO 8601 timestamp with an offset`, {
      hint: 'run `lifeboat check` to look for other damaged snapshots, and `lifeboat forget <snapshot-id>` to remove this one',
      context: { snapshot: snap.id, time: snap.time },
    });
  }
  return ms;
}

interface CalendarFields {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
}

function calendarFields(ms: number, tz: RetentionTimeZone): CalendarFields {
  const d = new Date(ms);
  return tz === 'UTC'
    ? { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours() }
    : { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours() };
}

/** ISO 8601 week as YYYYWW: weeks start on Monday, week 1 holds the year's first Thursday. */
function isoYearWeek(c: CalendarFields): number {
  // Pure calendar arithmetic on the date's fields, so it is right for local dates too.
  const date = Date.UTC(c.year, c.month - 1, c.day);
  const weekday = new Date(date).getUTCDay() || 7; // Monday 1 .. Sunday 7
  const thursday = new Date(date + (4 - weekday) * DAY_MS);
  const isoYear = thursday.getUTCFullYear();
  const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / DAY_MS / 7) + 1;
  return isoYear * 100 + week;
}

/** The bucket a snapshot falls in for each rule; numbers in restic's YYYYMMDDHH style. */
const bucketOf: Record<BucketRule, (c: CalendarFields, nr: number) => number> = {
  last: (_c, nr) => nr,
  hourly: (c) => c.year * 1_000_000 + c.month * 10_000 + c.day * 100 + c.hour,
  daily: (c) => c.year * 10_000 + c.month * 100 + c.day,
  weekly: (c) => isoYearWeek(c),
  monthly: (c) => c.year * 100 + c.month,
  yearly: (c) => c.year,
};

/**
 * `ref` minus the duration, calendar-aware like Go's AddDate (a month back from 31 March normalises past
 * 28/29 February, as in restic), then minus the hours as elapsed time.
 */
function pastTime(ref: number, d: Duration, tz: RetentionTimeZone): number {
  const r = new Date(ref);
  const t =
    tz === 'UTC'
      ? Date.UTC(
          r.getUTCFullYear() - d.years,
          r.getUTCMonth() - d.months,
          r.getUTCDate() - d.days,
          r.getUTCHours(),
          r.getUTCMinutes(),
          r.getUTCSeconds(),
          r.getUTCMilliseconds(),
        )
      : new Date(
          r.getFullYear() - d.years,
          r.getMonth() - d.months,
          r.getDate() - d.days,
          r.getHours(),
          r.getMinutes(),
          r.getSeconds(),
          r.getMilliseconds(),
        ).getTime();
  const out = t - d.hours * HOUR_MS;
  // A duration reaching past the range of Date reaches past every snapshot: keep them all, never none.
  return Number.isFinite(out) ? out : -Infinity;
}

/**
 * Applies `policy` to ONE group of snapshots (see `groupSnapshots`). Returns the kept snapshots with their
 * reasons and the ones to remove, both newest first; the input array is not modified. Snapshots with equal
 * times keep their input order. Throws USAGE for an empty or invalid policy, CORRUPT for a snapshot whose
 * time cannot be read.
 */
export function applyPolicy<T extends SnapshotLike>(
  snaps: T[],
  policy: RetentionPolicy,
  clock: Clock,
  tz: RetentionTimeZone = 'UTC',
): PolicyResult<T> {
  validatePolicy(policy);
  const list = snaps.map((snapshot) => ({ snapshot, ms: snapshotTime(snapshot) })).sort((a, b) => b.ms - a.ms);
  const keep: KeptSnapshot<T>[] = [];
  const remove: T[] = [];
  if (list.length === 0) return { keep, remove };

  let withinSince: number | undefined;
  let withinLabel = '';
  const within = policy.within === undefined ? undefined : parseDuration(policy.within);
  if (within !== undefined && !durationIsZero(within)) {
    const now = clock.now();
    const latest = list.find((s) => s.ms <= now)?.ms; // newest not in the future; list is newest first
    withinSince = latest === undefined ? -Infinity : pastTime(latest, within, tz);
    withinLabel = `within ${formatDuration(within)}`;
  }

  const buckets = bucketRules
    .map((rule) => ({ rule, left: policy[rule] ?? 0, last: -1, reason: `${rule} snapshot` }))
    .filter((b) => b.left !== 0);

  list.forEach(({ snapshot, ms }, nr) => {
    const reasons: string[] = [];
    for (const set of policy.tags ?? []) {
      if (hasTags(snapshot, set)) reasons.push(`has tags ${tagSetLabel(set)}`);
    }
    if (withinSince !== undefined && ms > withinSince) reasons.push(withinLabel);

    const cal = calendarFields(ms, tz);
    const oldest = nr === list.length - 1;
    for (const b of buckets) {
      if (b.left === 0) continue; // used up (-1 never reaches 0)
      const val = bucketOf[b.rule](cal, nr);
      if (val === b.last && !oldest) continue;
      reasons.push(val === b.last ? `oldest ${b.reason}` : b.reason);
      b.last = val;
      if (b.left > 0) b.left--;
    }

    if (reasons.length > 0) keep.push({ snapshot, reasons });
    else remove.push(snapshot);
  });
  return { keep, remove };
}

/**
 * Splits snapshots into the groups a policy is applied to, as restic's --group-by (default host,paths).
 * Groups come out ordered by key, so output does not depend on listing order; within a group, snapshots keep
 * their input order. Paths and tags are compared as sorted sets; the inputs are not modified.
 */
export function groupSnapshots<T extends SnapshotLike>(
  snaps: T[],
  by: GroupBy = { host: true, paths: true, tags: false },
): SnapshotGroup<T>[] {
  const groups = new Map<string, SnapshotGroup<T>>();
  for (const sn of snaps) {
    const key: SnapshotGroupKey = {};
    if (by.host) key.hostname = sn.hostname;
    if (by.paths) key.paths = [...sn.paths].sort();
    if (by.tags) key.tags = [...(sn.tags ?? [])].sort();
    // Fixed field order, so equal keys serialise equally.
    const id = JSON.stringify([key.hostname ?? null, key.paths ?? null, key.tags ?? null]);
    let g = groups.get(id);
    if (g === undefined) {
      g = { key, snapshots: [] };
      groups.set(id, g);
    }
    g.snapshots.push(sn);
  }
  return [...groups.values()].sort((a, b) => compareKeys(a.key, b.key));
}

/** Orders groups by hostname, then paths, then tags; a list sorts before any longer list it begins. */
function compareKeys(a: SnapshotGroupKey, b: SnapshotGroupKey): number {
  const str = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  const list = (x: string[] = [], y: string[] = []): number => {
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = str(x[i] as string, y[i] as string);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  };
  return str(a.hostname ?? '', b.hostname ?? '') || list(a.paths, b.paths) || list(a.tags, b.tags);
}
