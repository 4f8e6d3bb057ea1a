/**
 * The daemon's own state, in SQLite under the data folder (state.db): job history, the audit log of API
 * calls that change something (and of every refusal), and the last scheduled time of each group's jobs, so a
 * run missed while the daemon was down is made up once at start. A job still "running" when the state is
 * opened belonged to a daemon that died: it is recorded as interrupted.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { LifeboatError } from '../core/index.ts';

export type JobKind = 'backup' | 'check';
export type JobTrigger = 'schedule' | 'missed' | 'api' | 'startup';
export type JobStatus = 'queued' | 'running' | 'ok' | 'partial' | 'failed' | 'interrupted';

export interface JobRecord {
  id: number;
  group: string;
  kind: JobKind;
  trigger: JobTrigger;
  /** When it was due (scheduled jobs), ms since the epoch. */
  scheduledFor?: number;
  queued: number;
  started?: number;
  ended?: number;
  status: JobStatus;
  snapshots: string[];
  bytesAdded: number;
  warnings: string[];
  error?: string;
  /** Snapshots retention forgot after the job. */
  forgotten?: number;
}

export interface AuditRecord {
  id: number;
  time: number;
  actor: string;
  role: string;
  method: string;
  path: string;
  status: number;
  outcome: 'ok' | 'refused' | 'failed';
  remote: string;
  detail?: string;
}

interface JobRow {
  id: number;
  group_name: string;
  kind: JobKind;
  trigger_kind: JobTrigger;
  scheduled_for: number | null;
  queued: number;
  started: number | null;
  ended: number | null;
  status: JobStatus;
  snapshots: string;
  bytes_added: number;
  warnings: string;
  error: string | null;
  forgotten: number | null;
}

function toJob(r: JobRow): JobRecord {
  return {
    id: r.id,
    group: r.group_name,
    kind: r.kind,
    trigger: r.trigger_kind,
    ...(r.scheduled_for !== null ? { scheduledFor: r.scheduled_for } : {}),
    queued: r.queued,
    ...(r.started !== null ? { started: r.started } : {}),
    ...(r.ended !== null ? { ended: r.ended } : {}),
    status: r.status,
    snapshots: JSON.parse(r.snapshots) as string[],
    bytesAdded: r.bytes_added,
    warnings: JSON.parse(r.warnings) as string[],
    ...(r.error !== null ? { error: r.error } : {}),
    ...(r.forgotten !== null ? { forgotten: r.forgotten } : {}),
  };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  group_name TEXT NOT NULL,
  kind TEXT NOT NULL,
  trigger_kind TEXT NOT NULL,
  scheduled_for INTEGER,
  queued INTEGER NOT NULL,
  started INTEGER,
  ended INTEGER,
  status TEXT NOT NULL,
  snapshots TEXT NOT NULL DEFAULT '[]',
  bytes_added INTEGER NOT NULL DEFAULT 0,
  warnings TEXT NOT NULL DEFAULT '[]',
  error TEXT,
  forgotten INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_group ON jobs(group_name, kind, id);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  actor TEXT NOT NULL,
  role TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  remote TEXT NOT NULL,
  detail TEXT
);
CREATE TABLE IF NOT EXISTS replication_marks (
  group_name TEXT PRIMARY KEY,
  snapshot TEXT NOT NULL,
  cut INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_marks (
  group_name TEXT NOT NULL,
  kind TEXT NOT NULL,
  last_due INTEGER NOT NULL,
  PRIMARY KEY (group_name, kind)
);
`;

/** At most this many warnings are kept per job (a backup of a broken disk may have millions). */
const MAX_WARNINGS = 100;
/**
 * History kept: the newest finished jobs per group and the newest audit rows (a group backed up every
 * second adds 86,400 jobs a day). Trimmed every `TRIM_EVERY` inserts; SQLite reuses the freed pages.
 */
export const KEEP = { jobsPerGroup: 10_000, auditRows: 50_000 };
const TRIM_EVERY = 500;
/** Longest path and detail an audit row keeps (a refused request's path can be 16 KB). */
const AUDIT_TEXT = 512;

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export class StateStore {
  readonly #db: BetterSqlite3.Database;
  #jobInserts = 0;
  #auditInserts = 0;

  private constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  static async open(dataDir: string, now: number): Promise<StateStore> {
    const Database = (await import('better-sqlite3')).default;
    const file = join(dataDir, 'state.db');
    let db: BetterSqlite3.Database;
    try {
      db = new Database(file, { timeout: 5000 });
      // The audit log names who did what: readable by the daemon's user only (SQLite gives -wal and -shm
      // the database file's mode).
      chmodSync(file, 0o600);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // After a checkpoint the WAL file is cut back to this (it would otherwise keep its largest size).
      db.pragma('journal_size_limit = 4194304');
      db.exec(SCHEMA);
      const check = String(db.pragma('quick_check', { simple: true }));
      if (check !== 'ok') throw new Error(`quick_check: ${check}`);
    } catch (err) {
      throw new LifeboatError('CORRUPT', `cannot open the daemon's state ${file}: ${(err as Error).message}`, {
        cause: err,
        hint: 'the job history and audit log live there; move the file aside to start with an empty history (repositories are not affected)',
      });
    }
    const store = new StateStore(db);
    db.prepare(`UPDATE jobs SET status = 'interrupted', ended = ?, error = 'the daemon stopped while the job ran' WHERE status IN ('running', 'queued')`).run(now);
    return store;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  addJob(j: { group: string; kind: JobKind; trigger: JobTrigger; scheduledFor?: number; queued: number }): JobRecord {
    const r = this.#db
      .prepare(`INSERT INTO jobs (group_name, kind, trigger_kind, scheduled_for, queued, status) VALUES (?, ?, ?, ?, ?, 'queued') RETURNING *`)
      .get(j.group, j.kind, j.trigger, j.scheduledFor ?? null, j.queued) as JobRow;
    if (++this.#jobInserts % TRIM_EVERY === 0) this.trimJobs(j.group);
    return toJob(r);
  }

  startJob(id: number, at: number): void {
    this.#db.prepare(`UPDATE jobs SET status = 'running', started = ? WHERE id = ?`).run(at, id);
  }

  endJob(id: number, e: { at: number; status: JobStatus; snapshots?: string[]; bytesAdded?: number; warnings?: string[]; error?: string; forgotten?: number }): JobRecord {
    const warnings = e.warnings ?? [];
    const kept = warnings.length > MAX_WARNINGS ? [...warnings.slice(0, MAX_WARNINGS), `... and ${warnings.length - MAX_WARNINGS} more`] : warnings;
    const r = this.#db
      .prepare(`UPDATE jobs SET status = ?, ended = ?, snapshots = ?, bytes_added = ?, warnings = ?, error = ?, forgotten = ? WHERE id = ? RETURNING *`)
      .get(e.status, e.at, JSON.stringify(e.snapshots ?? []), e.bytesAdded ?? 0, JSON.stringify(kept), e.error ?? null, e.forgotten ?? null, id) as JobRow;
    return toJob(r);
  }

  job(id: number): JobRecord | undefined {
    const r = this.#db.prepare(`SELECT * FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
    return r ? toJob(r) : undefined;
  }

  jobs(q: { group?: string; kind?: JobKind; status?: JobStatus; limit?: number; before?: number } = {}): JobRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (clause: string, v: unknown): void => {
      where.push(clause);
      args.push(v);
    };
    if (q.group !== undefined) add('group_name = ?', q.group);
    if (q.kind !== undefined) add('kind = ?', q.kind);
    if (q.status !== undefined) add('status = ?', q.status);
    if (q.before !== undefined) add('id < ?', q.before);
    const sql = `SELECT * FROM jobs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, Math.max(1, Math.min(q.limit ?? 50, 1000))) as JobRow[]).map(toJob);
  }

  /** The newest finished job of a group and kind (any status but queued/running). */
  lastFinished(group: string, kind: JobKind): JobRecord | undefined {
    const r = this.#db.prepare(`SELECT * FROM jobs WHERE group_name = ? AND kind = ? AND status NOT IN ('queued', 'running') ORDER BY id DESC LIMIT 1`).get(group, kind) as JobRow | undefined;
    return r ? toJob(r) : undefined;
  }

  audit(a: Omit<AuditRecord, 'id'>): void {
    this.#db
      .prepare(`INSERT INTO audit (time, actor, role, method, path, status, outcome, remote, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(a.time, clip(a.actor, 200), a.role, a.method, clip(a.path, AUDIT_TEXT), a.status, a.outcome, clip(a.remote, 100), a.detail === undefined ? null : clip(a.detail, AUDIT_TEXT));
    if (++this.#auditInserts % TRIM_EVERY === 0) this.trimAudit();
  }

  /** Drops a group's finished jobs older than its newest `KEEP.jobsPerGroup`. */
  trimJobs(group: string, keep = KEEP.jobsPerGroup): void {
    this.#db
      .prepare(`DELETE FROM jobs WHERE group_name = ? AND status NOT IN ('queued', 'running') AND id < (SELECT id FROM jobs WHERE group_name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`)
      .run(group, group, keep - 1);
  }

  /** Drops audit rows older than the newest `KEEP.auditRows`. */
  trimAudit(keep = KEEP.auditRows): void {
    this.#db.prepare(`DELETE FROM audit WHERE id < (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)`).run(keep - 1);
  }

  auditLog(limit = 100): AuditRecord[] {
    const rows = this.#db.prepare(`SELECT * FROM audit ORDER BY id DESC LIMIT ?`).all(Math.max(1, Math.min(limit, 1000))) as Array<AuditRecord & { detail: string | null }>;
    return rows.map(({ detail, ...r }) => ({ ...r, ...(detail !== null ? { detail } : {}) }));
  }

  /** The newest checkpoint a group's journal acknowledged (its snapshot id there), kept across restarts. */
  lastCheckpoint(group: string): { snapshot: string; cut: number } | undefined {
    return this.#db.prepare(`SELECT snapshot, cut FROM replication_marks WHERE group_name = ?`).get(group) as { snapshot: string; cut: number } | undefined;
  }

  markCheckpoint(group: string, snapshot: string, cut: number): void {
    this.#db.prepare(`INSERT INTO replication_marks (group_name, snapshot, cut) VALUES (?, ?, ?) ON CONFLICT(group_name) DO UPDATE SET snapshot = excluded.snapshot, cut = excluded.cut`).run(group, snapshot, cut);
  }

  lastDue(group: string, kind: JobKind): number | undefined {
    const r = this.#db.prepare(`SELECT last_due FROM schedule_marks WHERE group_name = ? AND kind = ?`).get(group, kind) as { last_due: number } | undefined;
    return r?.last_due;
  }

  markDue(group: string, kind: JobKind, due: number): void {
    this.#db.prepare(`INSERT INTO schedule_marks (group_name, kind, last_due) VALUES (?, ?, ?) ON CONFLICT(group_name, kind) DO UPDATE SET last_due = excluded.last_due`).run(group, kind, due);
  }
}
