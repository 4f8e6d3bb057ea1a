/**
 * Logical PostgreSQL backups: pg_dump in directory format, uncompressed (the repository compresses and
 * deduplicates: a day's dump of a database that changed a little adds little), with parallel jobs, taken
 * from a snapshot exported by a session that also reads the catalog, so the table list in the snapshot
 * matches the dump exactly.
 *
 *   psql session: BEGIN REPEATABLE READ; pg_export_snapshot(); catalog ──┐
 *   pg_dump -Fd -Z0 -j N --snapshot ─▶ spool folder ─▶ archiver (storeAs /postgres/<db>) ─▶ snapshot
 *
 * Restore: the dump comes back from the repository into a spool folder and pg_restore replays it: a whole
 * database, one schema, or tables with their indexes, constraints, triggers and owned sequences (a list
 * file of TOC entries; see toc.ts), optionally under a new name. Nothing existing is replaced unless asked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLifeboatError, LifeboatError, throwIfAborted } from '../../core/index.ts';
import type { Repository, SnapshotEntry } from '../../repo/index.ts';
import { backupFiles, captureOptions, restoreFiles, type BackupResult, type CaptureOptions } from '../files/index.ts';
import { makeStaged, sweepStaged } from '../spool/index.ts';
import { describeDatabase, parseTableName, type DatabaseInfo, type TableInfo } from './catalog.ts';
import { asJsonArray, ident, literal, pgRestoreAtomic, PsqlSession, queryJson, redactConn, runTool, withDatabase } from './pgtools.ts';
import { attachKeys, columnComments, parseToc, selectEntries, tableKeys, type TablePart, type TocEntry } from './toc.ts';

export interface LogicalSource {
  kind: 'postgres';
  mode: 'logical';
  /** The connection string, password removed. */
  target: string;
  server_version: string;
  database: DatabaseInfo;
  /** Whether roles and tablespaces (pg_dumpall --globals-only) are in the snapshot as globals.sql. */
  globals: boolean;
  [k: string]: unknown;
}

export interface LogicalBackupOptions extends CaptureOptions {
  conn: string;
  /** pg_dump parallel jobs. Default 2 (one per core here; more rarely helps a 2-core machine). */
  jobs?: number;
  /** Folder for the dump while it is stored (default: the system temp folder). Needs room for one dump. */
  spool?: string;
}

/** Spool folders, named for their process, so a later backup (restore) removes those of a process that died. */
const DUMP_STAGED = 'lifeboat-pgdump-';
const RESTORE_STAGED = 'lifeboat-pgrestore-';

/** The snapshot folder that holds a database's dump. */
export function dumpPath(db: string): string {
  return `/postgres/${encodeURIComponent(db)}`;
}

export async function backupPostgresLogical(repo: Repository, opts: LogicalBackupOptions): Promise<BackupResult> {
  const parent = opts.spool ?? tmpdir();
  // Dumps left by processes killed while they made one, removed before this one takes room beside them.
  await sweepStaged(parent, DUMP_STAGED);
  const spool = makeStaged(parent, DUMP_STAGED);
  let session: PsqlSession | undefined;
  try {
    session = await PsqlSession.open(opts.conn, opts.signal ? { signal: opts.signal } : {});
    await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const snapshotId = (await session.query('SELECT pg_export_snapshot()')).trim();
    const info = await describeDatabase(session);
    const dir = join(spool, 'dump');
    await runTool('pg_dump', ['-d', opts.conn, '-Fd', '-Z', '0', '-j', String(opts.jobs ?? 2), `--snapshot=${snapshotId}`, '-f', dir], opts.conn, 'pg_dump', {
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    await session.query('COMMIT');
    await session.close();
    session = undefined;
    throwIfAborted(opts.signal);
    await countRows(dir, info, opts.signal);
    const globals = await dumpGlobals(opts.conn, join(dir, 'globals.sql'), opts.signal);
    if (!globals) {
      opts.onWarning?.({ path: 'globals.sql', kind: 'skipped', message: 'roles and tablespaces not saved (pg_dumpall --globals-only needs a superuser)' });
    }
    const source: LogicalSource = { kind: 'postgres', mode: 'logical', target: redactConn(opts.conn), server_version: info.server_version, database: info, globals };
    return await backupFiles(repo, {
      paths: [dir],
      storeAs: dumpPath(info.name),
      parent: false, // every file of a dump is new; deduplication happens by content
      source,
      consistency: 'application',
      ...captureOptions(opts),
    });
  } finally {
    await session?.close().catch(() => undefined);
    rmSync(spool, { recursive: true, force: true });
  }
}

/** Roles and tablespaces; false when the user may not read them. */
async function dumpGlobals(conn: string, file: string, signal: AbortSignal | undefined): Promise<boolean> {
  for (const extra of [[], ['--no-role-passwords']]) {
    try {
      const r = await runTool('pg_dumpall', ['-d', conn, '--globals-only', ...extra], conn, 'pg_dumpall', signal ? { signal } : {});
      writeFileSync(file, r.stdout);
      return true;
    } catch (err) {
      if (isLifeboatError(err, 'ABORTED')) throw err;
      /* try without passwords, then give up */
    }
  }
  return false;
}

/** Rows per table, counted in the dump's data files (COPY text: one line per row, then `\.`). */
async function countRows(dir: string, info: DatabaseInfo, signal: AbortSignal | undefined): Promise<void> {
  const toc = parseToc((await runTool('pg_restore', ['-l', dir], undefined, 'pg_restore -l', signal ? { signal } : {})).stdout.toString('utf8'));
  const byKey = new Map(info.tables.map((t) => [`TABLE DATA ${t.schema} ${t.name}`, t]));
  for (const e of toc) {
    const sp = e.desc.lastIndexOf(' ');
    const t = byKey.get(e.desc.slice(0, sp));
    if (!t) continue;
    t.dump_id = e.dumpId;
    t.rows = countLines(join(dir, `${e.dumpId}.dat`));
  }
}

function countLines(file: string): number {
  let n = 0;
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return 0;
  }
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let tail = '';
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      let i = -1;
      while ((i = buf.indexOf(10, i + 1)) !== -1 && i < got) n++;
      tail = (tail + buf.subarray(Math.max(0, got - 8), got).toString('latin1')).slice(-8);
    }
    // The data ends with "\.\n" and two empty lines.
    return tail.endsWith('\\.\n\n\n') ? n - 3 : n;
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------
// Restore

export interface LogicalRestoreOptions {
  conn: string;
  /** Tables (`schema.name`, or `name` for public). None: the whole database (or --schema). */
  tables?: string[];
  schemas?: string[];
  /** Restore the one table under this name (in its schema), beside the existing one. */
  as?: string;
  /** Drop what exists (the table, schema or database's objects) and restore over it. */
  replace?: boolean;
  jobs?: number;
  spool?: string;
  signal?: AbortSignal;
  onWarning?: (message: string) => void;
}

export interface LogicalRestoreResult {
  database: string;
  tables: Array<{ schema: string; name: string; rows?: number; as?: string }>;
  created_database: boolean;
  /** What the restore did not do that the user should know (large objects left out, say). */
  notes?: string[];
}

export function logicalSource(snap: SnapshotEntry): LogicalSource {
  const src = snap.source as Partial<LogicalSource>;
  if (src.kind !== 'postgres' || src.mode !== 'logical' || !src.database) {
    throw new LifeboatError('USAGE', `snapshot ${snap.short_id} is not a PostgreSQL dump (its source is ${String(src.kind)}${src.mode ? ' ' + String(src.mode) : ''})`, {
      hint: 'list PostgreSQL snapshots with `lifeboat snapshots`; a base backup is restored with `lifeboat restore --pitr` or --target',
    });
  }
  return src as LogicalSource;
}

/** Find tables by `schema.name`; an unquoted name also matches case-insensitively, like SQL. */
export function findTables(src: LogicalSource, specs: string[], snap: SnapshotEntry): TableInfo[] {
  return specs.map((spec) => {
    const { schema, name } = parseTableName(spec);
    const t = src.database.tables.find((x) => x.schema === schema && x.name === name);
    if (!t) {
      // As in SQL, an unquoted name is folded to lower case: a table created as "Upper" needs the quotes.
      const cased = src.database.tables.find((x) => x.schema.toLowerCase() === schema.toLowerCase() && x.name.toLowerCase() === name.toLowerCase());
      const some = src.database.tables.slice(0, 10).map((x) => `${x.schema}.${x.name}`).join(', ');
      throw new LifeboatError('NOT_FOUND', `table ${spec} is not in snapshot ${snap.short_id} of database ${src.database.name}`, {
        hint: cased
          ? `did you mean ${ident(cased.schema)}.${ident(cased.name)}? Quote names with capitals, as in SQL: --table '${ident(cased.schema)}.${ident(cased.name)}'`
          : `\`lifeboat ls ${snap.short_id}\` lists its tables${some ? ` (${some}${src.database.tables.length > 10 ? ', ...' : ''})` : ''}`,
      });
    }
    return t;
  });
}

export async function restorePostgresLogical(repo: Repository, snap: SnapshotEntry, opts: LogicalRestoreOptions): Promise<LogicalRestoreResult> {
  const src = logicalSource(snap);
  const tables = opts.tables?.length ? findTables(src, opts.tables, snap) : [];
  if (opts.as !== undefined && tables.length !== 1) {
    throw new LifeboatError('USAGE', '--as renames one table: give exactly one --table with it');
  }
  if (tables.length && opts.schemas?.length) throw new LifeboatError('USAGE', 'give --table or --schema, not both');
  for (const sch of opts.schemas ?? []) {
    if (!src.database.tables.some((t) => t.schema === sch)) {
      throw new LifeboatError('NOT_FOUND', `schema ${sch} has no tables in snapshot ${snap.short_id}`, { hint: `\`lifeboat ls ${snap.short_id}\` lists its tables` });
    }
  }
  const whole = tables.length === 0 && !opts.schemas?.length;
  const target = await targetDatabase(opts.conn, whole, opts.signal);
  const parent = opts.spool ?? tmpdir();
  const spool = makeStaged(parent, RESTORE_STAGED);
  try {
    const dir = join(spool, 'dump');
    const r = await restoreFiles(repo, snap, { target: dir, strip: dumpPath(src.database.name), owner: false, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (r.warnings.length) {
      throw new LifeboatError('INTEGRITY', `the dump in snapshot ${snap.short_id} could not be read back whole: ${r.warnings[0]!.path}: ${r.warnings[0]!.message}`);
    }
    const toc = parseToc((await runTool('pg_restore', ['-l', dir], undefined, 'pg_restore -l')).stdout.toString('utf8'));
    const common = ['--exit-on-error', '--no-password'];
    const sig = opts.signal ? { signal: opts.signal } : {};
    if (whole) {
      if (!target.created) {
        const [{ n }] = await queryJson<[{ n: number }]>(
          opts.conn,
          asJsonArray(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','S') AND s.nspname NOT IN ('pg_catalog','information_schema') AND s.nspname NOT LIKE 'pg_toast%'`),
          opts.signal,
        );
        if (n > 0 && !opts.replace) {
          throw new LifeboatError('EXISTS', `database ${target.name} already holds ${n} tables, views or sequences; nothing was changed`, {
            hint: 'add --replace to drop its objects and restore the dump over them, or connect to a new database name (it is created)',
          });
        }
      }
      // Over an existing database, all or nothing: one transaction (which rules out parallel jobs), so a
      // failure half-way (an object outside the dump that depends on one in it) leaves it as it was. A new
      // database is restored in parallel, and dropped again if that fails.
      const over = opts.replace === true && !target.created;
      let notes: string[] = [];
      try {
        if (over) {
          const plan = await replacePlan(opts.conn, src.database.tables, opts.signal);
          notes = plan.notes;
          await pgRestoreAtomic(opts.conn, ['--clean', '--if-exists', dir], 'pg_restore', { ...plan, ...sig });
        } else {
          await runTool('pg_restore', ['-d', opts.conn, '-j', String(opts.jobs ?? 2), ...common, dir], opts.conn, 'pg_restore', sig);
        }
      } catch (err) {
        if (target.created) {
          await runTool('psql', ['-X', '-q', '-d', withDatabase(opts.conn, 'postgres'), '-c', `DROP DATABASE IF EXISTS ${ident(target.name)} WITH (FORCE)`], opts.conn, 'DROP DATABASE').catch(() => undefined);
        }
        throw err;
      }
      return {
        database: target.name,
        tables: src.database.tables.map((t) => ({ schema: t.schema, name: t.name, ...(t.rows !== undefined ? { rows: t.rows } : {}) })),
        created_database: target.created,
        ...(notes.length ? { notes } : {}),
      };
    }
    if (opts.schemas?.length) {
      const chosen = src.database.tables.filter((t) => opts.schemas!.includes(t.schema));
      // A schema that exists but holds nothing (public in a new database) is no conflict.
      await refuseExisting(
        opts.conn,
        opts.schemas.map((s) => ({ kind: 'schema', sql: `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = to_regnamespace(${literal(ident(s))})) AS e`, name: s })),
        opts.replace,
        opts.signal,
      );
      const present = new Set<string>();
      for (const sch of opts.schemas) if (await schemaExists(opts.conn, sch, opts.signal)) present.add(sch);
      const entries = toc.filter((e) => opts.schemas!.includes(schemaOf(e)) || opts.schemas!.some((s) => !present.has(s) && e.desc.startsWith(`SCHEMA - ${s} `)));
      const plan = opts.replace ? await replacePlan(opts.conn, chosen, opts.signal) : { notes: [] };
      await pgRestoreList(opts.conn, dir, entries, spool, { clean: opts.replace, ...plan, ...sig });
      return { database: target.name, tables: chosen.map((t) => ({ schema: t.schema, name: t.name, ...(t.rows !== undefined ? { rows: t.rows } : {}) })), created_database: false, ...withNotes(plan.notes, toc) };
    }
    if (opts.as !== undefined) {
      const t = tables[0]!;
      await restoreTableAs(t, opts.as, { conn: opts.conn, dir, toc, spool, ...sig, ...(opts.replace ? { replace: true } : {}) });
      return { database: target.name, tables: [{ schema: t.schema, name: t.name, as: opts.as, ...(t.rows !== undefined ? { rows: t.rows } : {}) }], created_database: false };
    }
    await refuseExisting(
      opts.conn,
      tables.map((t) => ({ kind: 'table', sql: `SELECT to_regclass(${literal(`${ident(t.schema)}.${ident(t.name)}`)}) IS NOT NULL AS e`, name: `${t.schema}.${t.name}` })),
      opts.replace,
      opts.signal,
    );
    const parts = new Set<TablePart>(['definition', 'data', 'foreign-keys']);
    // A partitioned table is restored with its partitions (it holds no rows of its own); a partition
    // goes back into its parent when that is restored too or exists.
    const chosen = withPartitions(src, tables);
    const chosenNames = new Set(chosen.map((t) => `${t.schema}.${t.name}`));
    const entries: TocEntry[] = [];
    for (const t of chosen) {
      entries.push(...selectEntries(toc, tableKeys(t, parts)), ...columnComments(toc, t));
      const parent = t.partition_of;
      if (!parent) continue;
      if (chosenNames.has(`${parent.schema}.${parent.name}`)) {
        // Restored with its parent: attached as pg_dump does, before the parent's keys and indexes exist.
        entries.push(...selectEntries(toc, attachKeys(t)));
      } else if (await relationExists(opts.conn, parent.schema, parent.name, opts.signal)) {
        // Into a parent that exists (and has its indexes): made whole first, attached last, so that
        // ATTACH PARTITION takes the partition's matching indexes instead of making second ones.
        const attach = selectEntries(toc, [`TABLE ATTACH ${t.schema} ${t.name}`]);
        entries.push(...attach.map((e, k) => ({ ...e, pos: toc.length + k })));
      }
    }
    entries.push(...(await missingSchemas(opts.conn, toc, chosen, opts.signal)));
    entries.push(...(await referencingKeys(opts.conn, toc, src, chosen, opts.replace === true, opts.signal)));
    const plan = opts.replace ? await replacePlan(opts.conn, chosen, opts.signal) : { notes: [] };
    await pgRestoreList(opts.conn, dir, entries, spool, { clean: opts.replace, ...plan, ...sig });
    return { database: target.name, tables: chosen.map((t) => ({ schema: t.schema, name: t.name, ...(t.rows !== undefined ? { rows: t.rows } : {}) })), created_database: false, ...withNotes(plan.notes, toc) };
  } finally {
    rmSync(spool, { recursive: true, force: true });
    await sweepStaged(parent, RESTORE_STAGED);
  }
}

/** The database the connection names; created (for a whole-database restore) when it does not exist. */
async function targetDatabase(conn: string, mayCreate: boolean, signal: AbortSignal | undefined): Promise<{ name: string; created: boolean }> {
  try {
    const [{ db }] = await queryJson<[{ db: string }]>(conn, asJsonArray('SELECT current_database() AS db'), signal);
    return { name: db, created: false };
  } catch (err) {
    const m = /database "((?:[^"]|"")+)" does not exist/.exec((err as Error).message);
    if (!m || !mayCreate) throw err;
    const name = m[1]!;
    await runTool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', withDatabase(conn, 'postgres'), '-c', `CREATE DATABASE ${ident(name)}`], conn, 'CREATE DATABASE', signal ? { signal } : {});
    return { name, created: true };
  }
}

/**
 * `base` + `suffix` (an index's `_pkey`, say) within PostgreSQL's 63 bytes: when too long, `base` is cut
 * and a short hash of the whole added, so the name stays distinct from the table's and from the others.
 */
function fitName(base: string, suffix: string): string {
  const whole = base + suffix;
  if (Buffer.byteLength(whole) <= 63) return whole;
  const tag = `_${createHash('sha256').update(whole).digest('hex').slice(0, 8)}${suffix}`.slice(-40);
  let head = base;
  while (Buffer.byteLength(head) + Buffer.byteLength(tag) > 63) head = head.slice(0, -1);
  return head + tag;
}

/** `tables` and, for each partitioned one, its partitions (and theirs), each once, parents first. */
function withPartitions(src: LogicalSource, tables: TableInfo[]): TableInfo[] {
  const out: TableInfo[] = [];
  const seen = new Set<string>();
  const add = (t: TableInfo): void => {
    const key = `${t.schema}.${t.name}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(t);
    for (const p of t.partitions ?? []) {
      const child = src.database.tables.find((x) => x.schema === p.schema && x.name === p.name);
      if (child) add(child);
    }
  };
  for (const t of tables) add(t);
  return out;
}

async function schemaExists(conn: string, schema: string, signal: AbortSignal | undefined): Promise<boolean> {
  const [{ e }] = await queryJson<[{ e: boolean }]>(conn, asJsonArray(`SELECT to_regnamespace(${literal(ident(schema))}) IS NOT NULL AS e`), signal);
  return e;
}

async function relationExists(conn: string, schema: string, name: string, signal: AbortSignal | undefined): Promise<boolean> {
  const [{ e }] = await queryJson<[{ e: boolean }]>(conn, asJsonArray(`SELECT to_regclass(${literal(`${ident(schema)}.${ident(name)}`)}) IS NOT NULL AS e`), signal);
  return e;
}

/** A table restored alone does not bring the dump's large objects (they belong to no table): said, not hidden. */
function withNotes(notes: string[], toc: TocEntry[]): { notes?: string[] } {
  const n = toc.filter((e) => e.desc.startsWith('BLOB ') || e.desc.startsWith('LARGE OBJECT ')).length;
  const all = [...notes];
  if (n > 0) all.push(`the dump holds ${n} large object(s); a restore of tables or schemas does not bring them back (large objects belong to no table), so oid columns may point at ones that are not there: restore the whole database to get them`);
  return all.length ? { notes: all } : {};
}

/** The tables' oids in the target, as an SQL array (those that do not exist left out, so NOT ... = ANY is never null). */
const regclasses = (tables: Array<{ schema: string; name: string }>): string =>
  `array_remove(ARRAY[${tables.map((t) => `to_regclass(${literal(`${ident(t.schema)}.${ident(t.name)}`)})`).join(', ')}]::oid[], NULL)`;

/**
 * What replacing these tables takes besides pg_restore --clean: their partitions, and the partitions of
 * those tables, are detached first inside the restore's transaction. Dropping an attached partition's key
 * or index (as --clean does, before the table) is refused, and dropping a parent would take partitions
 * the snapshot does not have with it; detached, they are dropped and recreated from the dump, or left
 * standing and said in `notes`. No partitions involved: nothing to run first.
 */
async function replacePlan(conn: string, tables: TableInfo[], signal: AbortSignal | undefined): Promise<{ prelude?: string; notes: string[] }> {
  if (!tables.length) return { notes: [] };
  const involved = `FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE c.relispartition AND (i.inhrelid = ANY (${regclasses(tables)}) OR i.inhparent = ANY (${regclasses(tables)}))`;
  const rows = await queryJson<Array<{ part: string; parent: string; restored: boolean }>>(
    conn,
    asJsonArray(`SELECT i.inhrelid::regclass::text AS part, i.inhparent::regclass::text AS parent, i.inhrelid = ANY (${regclasses(tables)}) AS restored ${involved}`),
    signal,
  );
  if (!rows.length) return { notes: [] };
  const prelude = `DO $lifeboat$
DECLARE r record;
BEGIN
  FOR r IN SELECT i.inhrelid::regclass AS part, i.inhparent::regclass AS parent ${involved}
  LOOP
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', r.parent, r.part);
  END LOOP;
END $lifeboat$;`;
  const notes = rows.filter((r) => !r.restored).map((r) => `partition ${r.part} of ${r.parent} is not in the snapshot: it was kept as a table of its own (detached), with its rows`);
  return { prelude, notes };
}

async function refuseExisting(conn: string, checks: Array<{ kind: string; sql: string; name: string }>, replace: boolean | undefined, signal: AbortSignal | undefined): Promise<void> {
  if (replace) return;
  for (const c of checks) {
    const [{ e }] = await queryJson<[{ e: boolean }]>(conn, asJsonArray(c.sql), signal);
    if (e) {
      throw new LifeboatError('EXISTS', `${c.kind} ${c.name} already exists in the target database; nothing was changed`, {
        hint: `add --replace to drop it and restore it from the snapshot${c.kind === 'table' ? ', or --as NEW_NAME to restore it beside the existing one' : ''}`,
      });
    }
  }
}

/** TOC entries that create schemas the tables need and the target lacks. */
async function missingSchemas(conn: string, toc: TocEntry[], tables: TableInfo[], signal: AbortSignal | undefined): Promise<TocEntry[]> {
  const out: TocEntry[] = [];
  for (const s of new Set(tables.map((t) => t.schema))) {
    const [{ e }] = await queryJson<[{ e: boolean }]>(conn, asJsonArray(`SELECT to_regnamespace(${literal(ident(s))}) IS NOT NULL AS e`), signal);
    if (!e) out.push(...toc.filter((x) => x.desc.startsWith(`SCHEMA - ${s} `)));
  }
  return out;
}

/**
 * Foreign keys of other tables that point at the restored ones: dropping a table with CASCADE removed
 * them, so they come back when the referencing table exists and lacks them. A replace drops and re-adds
 * them around the table (they depend on its primary key).
 */
async function referencingKeys(conn: string, toc: TocEntry[], src: LogicalSource, tables: TableInfo[], replace: boolean, signal: AbortSignal | undefined): Promise<TocEntry[]> {
  const restored = new Set(tables.map((t) => `${t.schema}.${t.name}`));
  const out: TocEntry[] = [];
  for (const u of src.database.tables) {
    if (restored.has(`${u.schema}.${u.name}`)) continue;
    for (const c of u.constraints) {
      if (c.type !== 'f' || !restored.has(`${c.ref_schema}.${c.ref_table}`)) continue;
      const [{ missing }] = await queryJson<[{ missing: boolean }]>(
        conn,
        asJsonArray(`SELECT to_regclass(${literal(`${ident(u.schema)}.${ident(u.name)}`)}) IS NOT NULL
          AND (${replace ? 'true' : 'false'} OR NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(${literal(`${ident(u.schema)}.${ident(u.name)}`)}) AND conname = ${literal(c.name)})) AS missing`),
        signal,
      );
      if (missing) out.push(...selectEntries(toc, [`FK CONSTRAINT ${u.schema} ${u.name} ${c.name}`]));
    }
  }
  return out;
}

/** Objects a table may depend on, restored first into a scratch database. */
const prerequisiteTypes = [
  'SCHEMA', 'EXTENSION', 'TYPE', 'DOMAIN', 'FUNCTION', 'PROCEDURE', 'AGGREGATE', 'COLLATION', 'CONVERSION', 'OPERATOR', 'SHELL TYPE',
  'CAST', 'TEXT SEARCH CONFIGURATION', 'TEXT SEARCH DICTIONARY',
];

/** Types in a TOC listing that are more than one word; the schema follows the type. */
const multiWordTypes = [
  'TABLE DATA', 'FK CONSTRAINT', 'CHECK CONSTRAINT', 'SEQUENCE OWNED BY', 'SEQUENCE SET', 'ROW SECURITY', 'MATERIALIZED VIEW DATA',
  'MATERIALIZED VIEW', 'DEFAULT ACL', 'INDEX ATTACH', 'TABLE ATTACH', 'FOREIGN TABLE', 'TEXT SEARCH CONFIGURATION', 'TEXT SEARCH DICTIONARY',
  'TEXT SEARCH PARSER', 'TEXT SEARCH TEMPLATE', 'OPERATOR CLASS', 'OPERATOR FAMILY', 'SHELL TYPE', 'EVENT TRIGGER', 'LARGE OBJECT',
];

function schemaOf(e: TocEntry): string {
  const type = multiWordTypes.find((t) => e.desc.startsWith(t + ' ')) ?? e.desc.split(' ')[0]!;
  return e.desc.slice(type.length + 1).split(' ')[0]!;
}

/** A pg_restore list file of these entries. */
function listFile(spool: string, entries: TocEntry[]): string {
  const file = join(spool, `list-${randomBytes(4).toString('hex')}`);
  // pg_restore replays a list in the list's order: dump order, so everything comes after what it needs
  // (a schema before its tables, a table before its foreign keys).
  const unique = [...new Map(entries.map((e) => [e.dumpId, e])).values()].sort((a, b) => a.pos - b.pos);
  writeFileSync(file, unique.map((e) => e.line).join('\n') + '\n');
  return file;
}

/** Some entries of the dump, all or nothing; with `clean`, what exists of them is dropped first (in the same transaction, after `prelude`). */
async function pgRestoreList(
  conn: string,
  dir: string,
  entries: TocEntry[],
  spool: string,
  o: { clean?: boolean | undefined; prelude?: string; signal?: AbortSignal },
): Promise<void> {
  const args = ['-L', listFile(spool, entries), ...(o.clean ? ['--clean', '--if-exists'] : []), dir];
  await pgRestoreAtomic(conn, args, 'pg_restore', { ...(o.prelude ? { prelude: o.prelude } : {}), ...(o.signal ? { signal: o.signal } : {}) });
}

/**
 * One table under a new name. pg_restore cannot rename, so the table is restored into a scratch database
 * on the same server (without its foreign keys, whose targets are not there), renamed with its indexes
 * and owned sequences, dumped again and restored into the target; its foreign keys are then added from
 * the definitions the catalog gave at backup time. The scratch database is always dropped.
 */
async function restoreTableAs(
  t: TableInfo,
  newName: string,
  o: { conn: string; dir: string; toc: TocEntry[]; spool: string; signal?: AbortSignal; replace?: boolean },
): Promise<void> {
  // PostgreSQL's limit is 63 bytes, not characters (it would cut a longer name, silently).
  if (!newName || Buffer.byteLength(newName) > 63) throw new LifeboatError('USAGE', `--as ${JSON.stringify(newName)} is not a valid table name (1 to 63 bytes)`);
  const qualified = `${ident(t.schema)}.${ident(newName)}`;
  await refuseExisting(o.conn, [{ kind: 'table', sql: `SELECT to_regclass(${literal(qualified)}) IS NOT NULL AS e`, name: `${t.schema}.${newName}` }], o.replace, o.signal);
  const scratchName = `lifeboat_scratch_${randomBytes(6).toString('hex')}`;
  const admin = withDatabase(o.conn, 'postgres');
  const scratch = withDatabase(o.conn, scratchName);
  const sig = o.signal ? { signal: o.signal } : {};
  await runTool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', admin, '-c', `CREATE DATABASE ${ident(scratchName)}`], o.conn, 'CREATE DATABASE (scratch for --as)', sig);
  try {
    // First what the table may need (schemas, types, functions its triggers and defaults call), best
    // effort: some exist already in a new database. Then the table itself, all or nothing.
    const prereqs = o.toc.filter((x) => prerequisiteTypes.some((p) => x.desc.startsWith(p + ' ')));
    await runTool('pg_restore', ['-d', scratch, '--no-password', '-L', listFile(o.spool, prereqs), o.dir], scratch, 'pg_restore', sig).catch(() => undefined);
    const entries = [...selectEntries(o.toc, tableKeys(t, new Set<TablePart>(['definition', 'data']))), ...columnComments(o.toc, t)];
    await pgRestoreList(scratch, o.dir, entries, o.spool, sig);
    const rename = (old: string): string => fitName(newName, old.startsWith(t.name) ? old.slice(t.name.length) : `_${old}`);
    const stmts = [
      `ALTER TABLE ${ident(t.schema)}.${ident(t.name)} RENAME TO ${ident(newName)}`,
      // Renaming a constraint's index renames the constraint too.
      ...t.indexes.map((i) => `ALTER INDEX ${ident(t.schema)}.${ident(i)} RENAME TO ${ident(rename(i))}`),
      ...t.sequences.map((q) => `ALTER SEQUENCE ${ident(t.schema)}.${ident(q)} RENAME TO ${ident(rename(q))}`),
    ];
    await runTool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-d', scratch], o.conn, 'rename in scratch database', { input: stmts.join(';\n') + ';\n', ...sig });
    const moved = join(o.spool, 'as.dump');
    await runTool('pg_dump', ['-d', scratch, '-Fc', '-Z', '0', '-t', qualified, '-f', moved], o.conn, 'pg_dump (scratch)', sig);
    await pgRestoreAtomic(o.conn, [...(o.replace ? ['--clean', '--if-exists'] : []), moved], 'pg_restore', sig);
    const fks = t.constraints.filter((c) => c.type === 'f').map((c) => `ALTER TABLE ${qualified} ADD CONSTRAINT ${ident(c.name)} ${c.definition}`);
    if (fks.length) await runTool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-d', o.conn], o.conn, 'foreign keys', { input: fks.join(';\n') + ';\n', ...sig });
  } finally {
    await runTool('psql', ['-X', '-q', '-d', admin, '-c', `DROP DATABASE IF EXISTS ${ident(scratchName)} WITH (FORCE)`], o.conn, 'DROP DATABASE (scratch)').catch(() => undefined);
  }
}
