/**
 * `groups:` — protection groups: what is backed up together (files, PostgreSQL, SQLite members), into which
 * repository, when (cron), what is kept (retention), what it promises (RPO, RTO) and when it is checked.
 * Schedules are read with croner here, so an expression the daemon could not run is refused now.
 */
import { parseDuration, policyIsEmpty, type RetentionPolicy } from '../repo/index.ts';
import { redactConn } from '../sources/postgres/index.ts';
import { configDefaults } from './defaults.ts';
import { formatDurationMs } from './duration.ts';
import { knownList, type Path, type Reader } from './reader.ts';
import { cronForm, cronProblem, longestGapMs, timezoneProblem } from './schedule.ts';
import { readReplicate } from './replication.ts';
import type { GroupConfig, MemberConfig, PeerSiteConfig, ReplicateConfig, RepositoryConfig, ScheduleConfig } from './types.ts';

const memberKinds = ['files', 'postgres', 'sqlite'] as const;

function readSchedule(r: Reader, v: unknown, path: Path, now: Date): ScheduleConfig {
  let s: ScheduleConfig;
  let exprPath = path;
  if (typeof v === 'string') s = { cron: v.trim() };
  else {
    const m = r.map(v, path, ['cron', 'timezone']);
    exprPath = [...path, 'cron'];
    s = { cron: r.str(m['cron'], exprPath, { what: 'a cron expression' }).trim() };
    if (m['timezone'] !== undefined) {
      const tz = r.str(m['timezone'], [...path, 'timezone'], { what: 'an IANA time zone (Europe/Paris, UTC)' });
      const bad = timezoneProblem(tz);
      if (bad) r.fail([...path, 'timezone'], bad);
      s.timezone = tz;
    }
  }
  if (s.cron === '') r.fail(exprPath, `missing: ${cronForm}`);
  const bad = cronProblem(s, now);
  if (bad) r.fail(exprPath, bad);
  return s;
}

function readFiles(r: Reader, v: unknown, p: Path): MemberConfig {
  const path = (x: unknown, q: Path): string => r.path(x, q, 'a path to back up');
  if (typeof v === 'string') return { kind: 'files', paths: [path(v, p)], excludes: [], oneFileSystem: false };
  if (Array.isArray(v)) return { kind: 'files', paths: r.list(v, p, path, { nonEmpty: true }), excludes: [], oneFileSystem: false };
  const m = r.map(v, p, ['paths', 'exclude', 'one_file_system']);
  return {
    kind: 'files',
    paths: r.list(m['paths'], [...p, 'paths'], path, { nonEmpty: true }),
    excludes: r.list(m['exclude'], [...p, 'exclude'], (x, q) => r.str(x, q, { what: 'an exclude pattern (*.tmp, /srv/cache)' }), { optional: true }),
    oneFileSystem: r.bool(m['one_file_system'], [...p, 'one_file_system'], false),
  };
}

function readPostgres(r: Reader, v: unknown, p: Path): MemberConfig {
  const connWhat = "a connection string ('host=/run/postgresql dbname=app' or postgresql://host/app)";
  const conn = (x: unknown, q: Path): string => {
    // Never quoted back: a connection string may hold a password.
    if (typeof x !== 'string' || x.trim() === '') r.fail(q, `${x === undefined ? 'missing: ' : ''}expected ${connWhat}`);
    if (redactConn(x) !== x) r.warn(q, 'the connection string holds a password: whoever reads this file has it; prefer a ~/.pgpass file (PGPASSFILE) of the user the daemon runs as');
    return x;
  };
  if (typeof v === 'string') return { kind: 'postgres', mode: 'logical', conn: conn(v, p) };
  const m = r.map(v, p, ['conn', 'mode', 'jobs']);
  const mode = m['mode'] ?? 'logical';
  if (mode !== 'logical' && mode !== 'physical') r.fail([...p, 'mode'], `expected logical (pg_dump, the default) or physical (base backup and WAL)`);
  const c = conn(m['conn'], [...p, 'conn']);
  if (mode === 'physical') {
    if (m['jobs'] !== undefined) r.fail([...p, 'jobs'], 'jobs is for logical backups (pg_dump --jobs); a physical backup reads the data directory as it is', { at: 'key' });
    return { kind: 'postgres', mode, conn: c };
  }
  return { kind: 'postgres', mode, conn: c, ...(m['jobs'] !== undefined ? { jobs: r.int(m['jobs'], [...p, 'jobs'], undefined, 1, 64) } : {}) };
}

function readSqlite(r: Reader, v: unknown, p: Path): MemberConfig {
  if (typeof v === 'string') return { kind: 'sqlite', path: r.path(v, p, 'the database file') };
  const m = r.map(v, p, ['path']);
  return { kind: 'sqlite', path: r.path(m['path'], [...p, 'path'], 'the database file') };
}

function readMember(r: Reader, v: unknown, p: Path): MemberConfig {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) r.fail(p, `expected a member: one of ${memberKinds.join(', ')} (- files: [/srv/www])`);
  const keys = Object.keys(v);
  if (keys.length !== 1) r.fail(p, `a member is one of ${memberKinds.join(', ')}, each its own list item (- files: [...] then - sqlite: ...); this one has ${keys.length ? keys.join(', ') : 'nothing'}`);
  const kind = keys[0]!;
  const x = (v as Record<string, unknown>)[kind];
  const kp = [...p, kind];
  if (kind === 'files') return readFiles(r, x, kp);
  if (kind === 'postgres') return readPostgres(r, x, kp);
  if (kind === 'sqlite') return readSqlite(r, x, kp);
  return r.fail(kp, `unknown member kind${knownList(kind, memberKinds)}`, { at: 'key' });
}

function readRetention(r: Reader, v: unknown, p: Path): RetentionPolicy {
  const counts = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
  const m = r.map(v, p, [...counts, 'within', 'tags']);
  const policy: RetentionPolicy = {};
  for (const k of counts) if (m[k] !== undefined) policy[k] = r.int(m[k], [...p, k], undefined, -1, 1_000_000);
  if (m['within'] !== undefined) {
    const within = typeof m['within'] === 'number' ? r.fail([...p, 'within'], `${m['within']} has no unit: expected a duration such as 7d, 36h, 6m (months) or 1y`) : r.str(m['within'], [...p, 'within']);
    let months = 0;
    try {
      months = parseDuration(within).months;
    } catch (err) {
      r.fail([...p, 'within'], `${(err as Error).message}: expected a duration such as 7d, 36h, 6m (months) or 1y (units y, m, d, h as restic's --keep-within)`);
    }
    if (months > 0) r.warn([...p, 'within'], `"m" here means months (restic's --keep-within): ${within} keeps ${months} month${months === 1 ? '' : 's'} of snapshots`);
    policy.within = within;
  }
  if (m['tags'] !== undefined) {
    // Each entry is a set of tags a snapshot must all carry ([[web, keep]]); a lone tag is a set of one.
    policy.tags = r.list(m['tags'], [...p, 'tags'], (x, q) => (Array.isArray(x) ? r.list(x, q, (y, t) => r.str(y, t, { what: 'a tag' }), { nonEmpty: true }) : [r.str(x, q, { what: 'a tag or a list of tags' })]), { nonEmpty: true });
  }
  if (policyIsEmpty(policy)) r.fail(p, 'keeps nothing: expected at least one of last, hourly, daily, weekly, monthly, yearly, within, tags (leave retention out to keep every snapshot)');
  return policy;
}

function readSubset(r: Reader, v: unknown, p: Path): string {
  // What `lifeboat check --read-data-subset` takes: a share of the packs, 0 < N <= 100.
  const s = typeof v === 'string' ? v.trim() : '';
  const n = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (!n || !(Number(n[1]) > 0 && Number(n[1]) <= 100)) r.fail(p, `expected a percentage of the packs to read, above 0 and at most 100 (5%), as lifeboat check --read-data-subset takes`);
  return `${Number(n[1])}%`;
}

export function readGroups(r: Reader, v: unknown, repositories: RepositoryConfig[], now: Date, sites: PeerSiteConfig[] = []): GroupConfig[] {
  const P: Path = ['groups'];
  const repoNames = repositories.map((x) => x.name);
  return Object.entries(r.named(v, P, 'group')).map(([name, x]) => {
    const gp = [...P, name];
    const m = r.map(x, gp, ['repository', 'members', 'schedule', 'jitter', 'retention', 'hooks', 'rpo', 'rto', 'check', 'tags', 'replicate']);
    let repository: string;
    if (m['repository'] === undefined) {
      if (repoNames.length !== 1) {
        r.fail([...gp, 'repository'], repoNames.length === 0 ? 'missing: no repository is configured (add one under repositories:)' : `missing: expected one of ${repoNames.join(', ')} (it may be left out only when there is exactly one)`);
      }
      repository = repoNames[0]!;
    } else {
      repository = r.name(m['repository'], [...gp, 'repository'], 'repository');
      if (!repoNames.includes(repository)) r.fail([...gp, 'repository'], `no repository "${repository}" under repositories${knownList(repository, repoNames)}`);
    }
    const members = r.list(m['members'], [...gp, 'members'], (y, q) => readMember(r, y, q), { nonEmpty: true });
    const schedule = m['schedule'] === undefined ? undefined : readSchedule(r, m['schedule'], [...gp, 'schedule'], now);
    const jitterMs = r.duration(m['jitter'], [...gp, 'jitter'], configDefaults.jitterMs);
    const retention = m['retention'] === undefined ? undefined : readRetention(r, m['retention'], [...gp, 'retention']);
    let hooks: GroupConfig['hooks'];
    if (m['hooks'] !== undefined) {
      const hp = [...gp, 'hooks'];
      const h = r.map(m['hooks'], hp, ['pre', 'post', 'timeout']);
      const pre = r.str(h['pre'], [...hp, 'pre'], { optional: true, what: 'a shell command' });
      const post = r.str(h['post'], [...hp, 'post'], { optional: true, what: 'a shell command' });
      if (pre === undefined && post === undefined) r.fail(hp, 'expected pre, post or both (shell commands run before and after each backup)');
      const timeoutMs = r.duration(h['timeout'], [...hp, 'timeout'], undefined, { min: 1000 });
      hooks = { ...(pre !== undefined ? { pre } : {}), ...(post !== undefined ? { post } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
    }
    const rpoMs = r.duration(m['rpo'], [...gp, 'rpo'], undefined, { min: 1000 });
    const rtoMs = r.duration(m['rto'], [...gp, 'rto'], undefined, { min: 1000 });
    // A replicated group meets its RPO by its checkpoints, not by its schedule.
    if (rpoMs !== undefined && m['replicate'] === undefined) {
      if (!schedule) r.warn([...gp, 'rpo'], 'there is no schedule: backups run only on demand, so this RPO will be breached unless something runs them');
      else {
        const gap = longestGapMs(schedule, now) + jitterMs;
        if (gap > rpoMs) r.warn([...gp, 'rpo'], `the schedule (with its jitter) can leave ${formatDurationMs(gap)} between backups, more than the RPO of ${formatDurationMs(rpoMs)}: it will be breached even when every backup succeeds`);
      }
    }
    let check: GroupConfig['check'];
    if (m['check'] !== undefined) {
      const cp = [...gp, 'check'];
      const c = r.map(m['check'], cp, ['schedule', 'read_data_subset']);
      if (c['schedule'] === undefined) r.fail([...cp, 'schedule'], 'missing: expected when to check the repository (a cron expression)');
      check = {
        schedule: readSchedule(r, c['schedule'], [...cp, 'schedule'], now),
        ...(c['read_data_subset'] !== undefined ? { readDataSubset: readSubset(r, c['read_data_subset'], [...cp, 'read_data_subset']) } : {}),
      };
    }
    return {
      name,
      repository,
      members,
      ...(schedule ? { schedule } : {}),
      jitterMs,
      ...(retention ? { retention } : {}),
      ...(hooks ? { hooks } : {}),
      objectives: { ...(rpoMs !== undefined ? { rpoMs } : {}), ...(rtoMs !== undefined ? { rtoMs } : {}) },
      ...(check ? { check } : {}),
      tags: r.list(m['tags'], [...gp, 'tags'], (y, q) => r.str(y, q, { pattern: /^[^,\s]+$/, what: 'a tag (no commas or spaces)' }), { optional: true }),
      ...(m['replicate'] !== undefined ? { replicate: readReplicateOf(r, m['replicate'], [...gp, 'replicate'], sites, members) } : {}),
    };
  });
}

function readReplicateOf(r: Reader, v: unknown, p: Path, sites: PeerSiteConfig[], members: MemberConfig[]): ReplicateConfig {
  const rep = readReplicate(r, v, p, sites);
  // Files members replicate today; PostgreSQL (a managed standby) and SQLite (WAL shipping) come next.
  const other = members.find((m) => m.kind !== 'files');
  if (other) r.fail(p, `replication carries files members today; this group has a ${other.kind} member (back it up on a schedule, or put it in a group of its own)`);
  if (members.length > 1) r.fail(p, 'replication carries one files member per group today: give the paths as one member, or make a group per member');
  return rep;
}
