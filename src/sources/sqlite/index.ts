/**
 * The `sqlite` source: an SQLite database file, copied consistently while the application keeps writing,
 * with SQLite's online backup API (better-sqlite3's `backup`), checked (`PRAGMA quick_check`) before it is
 * stored, and stored under the database file's own path. A copy of the live file instead could catch a
 * half-written transaction or miss what is still in its -wal file.
 *
 * The backup copies all pages in one step after the first: a step that holds the read lock for the whole
 * copy sees one consistent state, where small steps restart whenever another connection writes and could
 * never finish under a steady stream of writes.
 */
import type Database from 'better-sqlite3';
import { copyFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { abortError, LifeboatError } from '../../core/index.ts';

/** better-sqlite3 is a native module (~30 ms to load): loaded when a backup or restore needs it, so importing this module costs nothing. */
async function sqlite(): Promise<typeof Database> {
  return (await import('better-sqlite3')).default;
}
import type { Repository, SnapshotEntry } from '../../repo/index.ts';
import { backupFiles, captureOptions, restoreFiles, type BackupResult, type CaptureOptions } from '../files/index.ts';
import { makeStaged, sweepStaged } from '../spool/index.ts';

/** Staged copies, named for their process, so a later backup (restore) removes those of a process that died. */
const STAGED = 'lifeboat-sqlite-';
const RESTORE_STAGED = '.lifeboat-restore-';

interface SqliteInfo {
  sqlite_version: string;
  page_size: number;
  pages: number;
  tables: Array<{ name: string; rows: number }>;
}

export interface SqliteSource extends SqliteInfo {
  kind: 'sqlite';
  path: string;
  journal_mode: string;
  [k: string]: unknown;
}

export interface SqliteBackupOptions extends CaptureOptions {
  file: string;
  spool?: string;
  /** How long to wait for a writer's lock before giving up. Default 60 s. */
  busyTimeoutMs?: number;
}

function describe(db: Database.Database): SqliteInfo {
  const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
  return {
    sqlite_version: db.prepare('SELECT sqlite_version()').pluck().get() as string,
    page_size: db.pragma('page_size', { simple: true }) as number,
    pages: db.pragma('page_count', { simple: true }) as number,
    tables: names.map((name) => ({ name, rows: db.prepare(`SELECT count(*) FROM "${name.replace(/"/g, '""')}"`).pluck().get() as number })),
  };
}

function check(db: Database.Database, what: string, full = false): void {
  const rows = db.pragma(full ? 'integrity_check' : 'quick_check', { simple: false }) as Array<Record<string, string>>;
  const msgs = rows.map((r) => Object.values(r)[0]);
  if (msgs.length !== 1 || msgs[0] !== 'ok') {
    throw new LifeboatError('INTEGRITY', `${what} fails ${full ? 'integrity_check' : 'quick_check'}: ${msgs.slice(0, 3).join('; ')}`);
  }
}

/** SQLite's own errors while copying (a damaged page, a lock held too long) are the source's fault, not ours. */
function sqliteFailure(err: unknown, file: string): unknown {
  const code = (err as { code?: unknown }).code;
  if (err instanceof LifeboatError || typeof code !== 'string' || !code.startsWith('SQLITE_')) return err;
  const busy = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
  return new LifeboatError('SOURCE', `cannot copy ${file}: ${(err as Error).message} (${code}); nothing was saved`, {
    cause: err,
    hint: busy
      ? 'a writer held the database longer than the busy timeout; try again, or raise the timeout'
      : 'the database file is damaged; run "sqlite3 FILE .recover" or restore it from an earlier snapshot',
  });
}

export async function backupSqlite(repo: Repository, opts: SqliteBackupOptions): Promise<BackupResult> {
  const file = resolve(opts.file);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new LifeboatError('USAGE', `${file} is not an SQLite database file`, { hint: 'give the path of the database file' });
  }
  const Database = await sqlite();
  const parent = opts.spool ?? tmpdir();
  // Copies left by processes killed while they staged one, removed before this one takes room beside them.
  await sweepStaged(parent, STAGED);
  const spool = makeStaged(parent, STAGED);
  try {
    // A writer holding the database locked: SQLite's own busy wait would sleep on this thread (a daemon
    // would stop answering for as long), so the wait is done here, between tries, on the event loop.
    const waitUntil = Date.now() + (opts.busyTimeoutMs ?? 60_000);
    let src: Database.Database | undefined;
    let journalMode = '';
    const delay = 20;
    for (;;) {
      try {
        // Each try waits up to 5 ms the way SQLite does (it polls after 1, 2 and 5 ms, catching a busy
        // writer's gaps); between tries the event loop runs, so it blocks this thread a fifth of the time.
        src = new Database(file, { fileMustExist: true, timeout: 5 });
        src.prepare('SELECT count(*) FROM sqlite_schema').get();
        journalMode = String(src.pragma('journal_mode', { simple: true }));
        // The copy's steps meet writers' locks too; there SQLite's own wait is kept (without it a step that
        // meets a writer's journal fails with SQLITE_CANTOPEN). Writers hold their locks briefly; the long
        // wait for a lock held from the start is the one above, off this thread's back.
        src.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 60_000}`);
        break;
      } catch (err) {
        src?.close();
        src = undefined;
        const code = String((err as { code?: string }).code ?? '');
        const busy = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || /database is locked/.test((err as Error).message);
        if (!busy || Date.now() >= waitUntil) throw new LifeboatError('SOURCE', `cannot open ${file} as an SQLite database: ${(err as Error).message}`, { cause: err, ...(busy ? { hint: 'a writer held the database longer than the busy timeout; try again' } : {}) });
        await new Promise<void>((resolve, reject) => {
          if (opts.signal?.aborted) return reject(abortError(opts.signal));
          const t = setTimeout(resolve, delay);
          opts.signal?.addEventListener('abort', () => (clearTimeout(t), reject(abortError(opts.signal))), { once: true });
        });
      }
    }
    const copy = join(spool, basename(file));
    let info: SqliteInfo;
    try {
      try {
        await src.backup(copy, { progress: () => 1 << 30 });
      } finally {
        src.close();
      }
      const db = new Database(copy, { fileMustExist: true });
      try {
        check(db, `the copy of ${file}`);
        info = describe(db);
        // The copy is one file: no -wal to go with it.
        if (journalMode === 'wal') db.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        db.close();
      }
    } catch (err) {
      throw sqliteFailure(err, file);
    }
    const source: SqliteSource = { kind: 'sqlite', path: file, journal_mode: journalMode, ...info };
    return await backupFiles(repo, {
      paths: [copy],
      storeAs: file,
      parent: false,
      source,
      consistency: 'application',
      ...captureOptions(opts),
    });
  } finally {
    rmSync(spool, { recursive: true, force: true });
  }
}

export function sqliteSource(snap: Pick<SnapshotEntry, 'source'>): SqliteSource | undefined {
  const s = snap.source as Partial<SqliteSource>;
  return s.kind === 'sqlite' && typeof s.path === 'string' ? (s as SqliteSource) : undefined;
}

export interface SqliteRestoreOptions {
  /** Where to write the database (default: its original path). */
  dest?: string;
  /** Replace an existing file (its -wal, -shm and -journal files are removed: they belong to the old one). */
  replace?: boolean;
  signal?: AbortSignal;
}

export interface SqliteRestoreResult {
  path: string;
  integrity: 'ok';
  tables: Array<{ name: string; rows: number }>;
}

export async function restoreSqlite(repo: Repository, snap: SnapshotEntry, opts: SqliteRestoreOptions = {}): Promise<SqliteRestoreResult> {
  const src = sqliteSource(snap);
  if (!src) throw new LifeboatError('USAGE', `snapshot ${snap.short_id} is not an SQLite backup`);
  const dest = resolve(opts.dest ?? src.path);
  const folder = dirname(dest);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new LifeboatError('USAGE', `cannot restore to ${dest}: the folder ${folder} does not exist`, { hint: 'create it first, or give another path' });
  }
  if (existsSync(dest) && statSync(dest).isDirectory()) {
    throw new LifeboatError('USAGE', `cannot restore to ${dest}: it is a folder`, { hint: `give the database file's path, e.g. ${join(dest, basename(src.path))}` });
  }
  if (existsSync(dest) && !opts.replace) {
    throw new LifeboatError('EXISTS', `${dest} exists; nothing was changed`, { hint: 'add --replace to overwrite it (stop the application first), or restore to another path' });
  }
  // Staged next to the destination, so the final step is a rename on one file system.
  const stage = makeStaged(dirname(dest), RESTORE_STAGED);
  try {
    const r = await restoreFiles(repo, snap, { target: stage, strip: dirname(src.path), include: [src.path], ...(opts.signal ? { signal: opts.signal } : {}) });
    if (r.warnings.length) throw new LifeboatError('INTEGRITY', `the database in snapshot ${snap.short_id} could not be restored: ${r.warnings[0]!.message}`);
    const staged = join(stage, basename(src.path));
    const Database = await sqlite();
    const db = new Database(staged, { fileMustExist: true });
    let tables: SqliteSource['tables'];
    try {
      check(db, `the restored copy of ${src.path}`, true);
      tables = describe(db).tables;
    } finally {
      db.close();
    }
    for (const extra of ['-wal', '-shm', '-journal']) rmSync(dest + extra, { force: true });
    try {
      renameSync(staged, dest);
    } catch {
      copyFileSync(staged, dest);
    }
    return { path: dest, integrity: 'ok', tables };
  } finally {
    rmSync(stage, { recursive: true, force: true });
    await sweepStaged(dirname(dest), RESTORE_STAGED);
  }
}
