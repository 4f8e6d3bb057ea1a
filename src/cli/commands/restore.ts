/** `lifeboat restore SNAPSHOT --target DIR`: bring back a snapshot, or parts of it. */
import type { Command } from 'commander';
import { LifeboatError } from '../../core/index.ts';
import { walRestoreCommand } from '../../jobs/index.ts';
import type { Repository, SnapshotEntry } from '../../repo/index.ts';
import { newRestoreProgress, prestartRestoreWorkers, restoreFiles } from '../../sources/files/index.ts';
import { physicalSource, restorePostgresCluster, restorePostgresLogical } from '../../sources/postgres/index.ts';
import { collect, Session, type Runtime } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatBytes, formatDuration, restoreProgressView, withProgress } from '../output.ts';
import { addFilterOptions, filterFrom, pickSnapshot, type FilterOptions } from '../snapshot-args.ts';

interface RestoreFlags extends FilterOptions {
  target?: string;
  include?: string[];
  verify?: boolean;
  delete?: boolean;
  postgres?: string;
  table?: string[];
  schema?: string[];
  as?: string;
  replace?: boolean;
  jobs?: string;
  pitr?: string;
  lsn?: string;
  restorePoint?: string;
  restoreCommand?: string;
  keepArchiving?: boolean;
  sqlite?: string;
}

export function registerRestore(program: Command, rt: Runtime): void {
  const cmd = program
    .command('restore')
    .summary('restore a snapshot, or files from it, into a folder')
    .argument('[snapshot]', '"latest", a snapshot id, or a unique prefix of one (optional with --pitr, --lsn, --restore-point)')
    .description(
      'Restore a snapshot into a target folder, with its metadata (owners when run as root, modes, times, ' +
        'extended attributes, hard links). Paths inside the snapshot are absolute and are recreated below the ' +
        'target: /home/ann/report.odt restores to TARGET/home/ann/report.odt. --include restores only the given ' +
        'paths (and everything below them). Nothing is written outside the target. A file that cannot be ' +
        'restored (damaged data, a write error) is reported, the others are restored, and the exit status is 3. ' +
        'With "latest", --host, --tag and --path choose among the snapshots.\n\n' +
        'PostgreSQL dump (a snapshot of `backup --postgres`): --postgres CONN restores into the database CONN names ' +
        '(created if missing) the whole dump, --schema S, or --table T with its indexes, constraints, triggers, owned ' +
        'sequences and the foreign keys that point at it; --as NEW restores one table beside the existing one. What ' +
        'exists is never overwritten without --replace.\n\n' +
        'PostgreSQL point in time (base backups of `backup --postgres --physical` and the WAL archive): --pitr TIME, ' +
        '--lsn LSN or --restore-point NAME writes a data directory into --target (new or empty) that recovers to exactly ' +
        'that point when started, then promotes. The base backup is chosen (the newest that ends before the point) ' +
        'unless given. A point outside the archive is refused with the available range. A base backup snapshot with ' +
        'only --target recovers to the end of that backup.\n\n' +
        'SQLite: --sqlite FILE writes the database to FILE and runs PRAGMA integrity_check on it.',
    )
    .option('-t, --target <dir>', 'folder to restore into (created if needed); for PostgreSQL recovery, the new data directory')
    .option('-i, --include <path>', 'restore only this absolute snapshot path and what is below it (repeatable)', collect)
    .option('--verify', 'read every restored file back and compare it with the snapshot')
    .option('--delete', 'remove files in the target that the snapshot does not have (inside restored folders): an exact rollback')
    .option('--postgres <conn>', 'restore a PostgreSQL dump into the database this connection names')
    .option('--table <schema.table>', 'with --postgres: only this table (repeatable)', collect)
    .option('--schema <name>', 'with --postgres: only this schema (repeatable)', collect)
    .option('--as <name>', 'with --postgres --table: restore the table under this name, beside the existing one')
    .option('--replace', 'drop what exists (table, schema, database objects, SQLite file) and restore over it')
    .option('--jobs <n>', 'with --postgres: pg_restore parallel jobs for a whole database (default 2)')
    .option('--pitr <time>', 'PostgreSQL: recover to this time (2026-11-30 14:05:00+01; no zone = local time)')
    .option('--lsn <lsn>', 'PostgreSQL: recover to this WAL position (0/1A2B3C4D)')
    .option('--restore-point <name>', 'PostgreSQL: recover to a point made with pg_create_restore_point()')
    .option('--restore-command <cmd>', 'PostgreSQL: restore_command to write (default: this lifeboat, this repository, wal fetch)')
    .option('--keep-archiving', 'PostgreSQL: let the recovered cluster archive WAL as the original did (default: archive_mode off, so a drill never writes into the production archive)')
    .option('--sqlite <file>', 'restore an SQLite backup to FILE and check it');
  addFilterOptions(cmd, 'consider snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup restore latest --target /tmp/restore
  lifeboat restore 3f9a1c2e --target /tmp/r --include /home/ann/report.odt
  lifeboat restore latest --host web1 --path /srv/www --target /srv/www-restored --verify
  lifeboat restore 3f9a1c2e --target / --include /srv/share --delete --verify   # roll /srv/share back in place
  lifeboat restore latest --tag shop --postgres 'dbname=shop' --table public.orders
  lifeboat restore 3f9a1c2e --postgres 'dbname=shop' --table orders --as orders_before
  lifeboat restore --pitr '2026-11-30 14:04:59+01' --target /var/lib/postgresql/15/restored
  lifeboat restore latest --path /srv/app/app.db --sqlite /srv/app/app.db --replace

OUTPUT
  Human: a summary of the files, folders and bytes restored; warnings on stderr as they happen.
  --json: a {"message_type":"error",...} line per failed file, then a {"message_type":"summary",...} line.

EXIT STATUS
  0   everything was restored
  1   fatal error
  2   usage error (no --target, a relative --include path); a table, schema, database or file
      that exists and no --replace; a point in time outside the archive
  3   the restore finished, but some files failed (listed as warnings)
  10  the repository does not exist
  11  the repository is locked exclusively (prune running)
  12  wrong password
  13  a snapshot or tree could not be read back intact
  14  the database could not be reached (connection or login failed); SQL the database refused
      during a restore is exit 1, with its message`,
    )
    .action(async (ref: string | undefined, o: RestoreFlags, c: Command) => {
      const s = Session.of(rt, c);
      const pointInTime = o.pitr !== undefined || o.lsn !== undefined || o.restorePoint !== undefined;
      if (ref === undefined && !pointInTime) {
        throw new LifeboatError('USAGE', 'which snapshot? give "latest", an id, or a point in time (--pitr, --lsn, --restore-point)', {
          hint: 'see `lifeboat restore --help`',
        });
      }
      if (o.target === undefined && o.postgres === undefined && o.sqlite === undefined) {
        throw new LifeboatError('USAGE', 'where to? give --target DIR (or --postgres CONN for a database dump, --sqlite FILE for an SQLite backup)', {
          hint: 'see `lifeboat restore --help`',
        });
      }
      // A restore of files: its workers boot while the key is derived and the snapshot found.
      if (!pointInTime && o.target !== undefined && o.postgres === undefined && o.sqlite === undefined) prestartRestoreWorkers();
      await s.withRepo(async (repo) => {
        const snap = ref === undefined ? undefined : await pickSnapshot(s, repo, ref, filterFrom(o));
        if (pointInTime || (snap && physicalSource(snap))) return restoreCluster(s, repo, snap, o);
        if (!snap) return;
        if (o.postgres !== undefined) return restoreDump(s, repo, snap, o);
        if (o.sqlite !== undefined) {
          const { restoreSqlite, sqliteSource } = await import('../../sources/sqlite/index.ts'); // native: loaded when used
          if (!sqliteSource(snap)) throw new LifeboatError('USAGE', `snapshot ${snap.short_id} is not an SQLite backup`);
          const r = await restoreSqlite(repo, snap, { dest: o.sqlite, ...(o.replace ? { replace: true } : {}), signal: s.signal });
          s.out.emit({ message_type: 'summary', snapshot_id: snap.id, path: r.path, integrity: r.integrity, tables: r.tables });
          s.out.print(`restored ${r.path} from snapshot ${snap.short_id}: integrity_check ok, ${r.tables.length} tables, ${r.tables.reduce((a, t) => a + t.rows, 0)} rows`);
          return;
        }
        if (o.target === undefined) {
          throw new LifeboatError('USAGE', 'where to? give --target DIR', {
            hint: snap.source.kind === 'postgres' ? 'a PostgreSQL dump is restored into a database with --postgres CONN' : snap.source.kind === 'sqlite' ? 'an SQLite backup can also go to a file with --sqlite FILE' : undefined,
          });
        }
        const target = o.target;
        s.out.print(`restoring snapshot ${snap.short_id} of [${snap.paths.join(', ')}] at ${snap.time} by ${snap.username}@${snap.hostname} to ${target}`);
        const progress = newRestoreProgress();
        const started = performance.now();
        const result = await withProgress(restoreProgressView(s.out, progress), () =>
          restoreFiles(repo, snap, {
            target,
            ...(o.include?.length ? { include: o.include } : {}),
            ...(o.verify ? { verify: true } : {}),
            ...(o.delete ? { delete: true } : {}),
            signal: s.signal,
            progress,
            onWarning: (w) => {
              s.out.warn(`${w.path}: ${w.message}`, { message_type: 'error', error: { message: w.message }, during: 'restore', item: w.path, kind: w.kind });
            },
          }),
        );
        const elapsed = performance.now() - started;
        s.out.emit({
          message_type: 'summary',
          snapshot_id: snap.id,
          seconds_elapsed: Math.round(elapsed / 1000),
          total_files: progress.totalFiles,
          files_restored: result.files,
          dirs_restored: result.dirs,
          total_bytes: progress.totalBytes,
          bytes_restored: result.bytes,
          errors: result.warnings.length,
          ...(o.delete ? { files_deleted: result.removed } : {}),
          ...(result.verified !== undefined ? { files_verified: result.verified } : {}),
        });
        s.out.print(`Summary: restored ${result.files} files and ${result.dirs} folders (${formatBytes(result.bytes)}) in ${formatDuration(elapsed)}`);
        if (o.delete) s.out.print(`removed ${result.removed} entries the snapshot does not have`);
        if (result.verified !== undefined) s.out.print(`verified ${result.verified} files`);
        if (result.warnings.length > 0) {
          s.out.warn(`${result.warnings.length} problem(s) during restore; see the warnings above`);
          s.exitWith(ExitCode.partial);
        }
      });
    });
}

async function restoreDump(s: Session, repo: Repository, snap: SnapshotEntry, o: RestoreFlags): Promise<void> {
  const jobs = o.jobs === undefined ? undefined : Number(o.jobs);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new LifeboatError('USAGE', `--jobs takes a whole number of at least 1, not ${o.jobs}`);
  const r = await restorePostgresLogical(repo, snap, {
    conn: o.postgres!,
    ...(o.table?.length ? { tables: o.table } : {}),
    ...(o.schema?.length ? { schemas: o.schema } : {}),
    ...(o.as !== undefined ? { as: o.as } : {}),
    ...(o.replace ? { replace: true } : {}),
    ...(jobs ? { jobs } : {}),
    signal: s.signal,
  });
  for (const n of r.notes ?? []) s.out.warn(n, { message_type: 'warning', message: n });
  s.out.emit({ message_type: 'summary', snapshot_id: snap.id, database: r.database, created_database: r.created_database, tables: r.tables, ...(r.notes ? { notes: r.notes } : {}) });
  if (r.created_database) s.out.print(`created database ${r.database}`);
  for (const t of r.tables) s.out.print(`restored ${t.schema}.${t.name}${t.as ? ` as ${t.schema}.${t.as}` : ''}${t.rows !== undefined ? ` (${t.rows} rows)` : ''}`);
  s.out.print(`database ${r.database}: ${r.tables.length} table(s) restored from snapshot ${snap.short_id}`);
}

async function restoreCluster(s: Session, repo: Repository, snap: SnapshotEntry | undefined, o: RestoreFlags): Promise<void> {
  if (o.target === undefined) throw new LifeboatError('USAGE', 'give --target DIR: the new data directory to write');
  const restoreCommand =
    o.restoreCommand ??
    walRestoreCommand({
      repo: s.repoPath(),
      ...(s.opts.passwordFile !== undefined ? { passwordFile: s.opts.passwordFile } : {}),
      ...(s.rt.env['LIFEBOAT_PASSWORD_COMMAND'] ? { passwordCommand: s.rt.env['LIFEBOAT_PASSWORD_COMMAND'] } : {}),
    });
  const progress = newRestoreProgress();
  const r = await withProgress(restoreProgressView(s.out, progress), () =>
    restorePostgresCluster(repo, {
      target: o.target!,
      ...(snap ? { snapshot: snap } : {}),
      ...(o.pitr !== undefined ? { time: o.pitr } : {}),
      ...(o.lsn !== undefined ? { lsn: o.lsn } : {}),
      ...(o.restorePoint !== undefined ? { restorePoint: o.restorePoint } : {}),
      restoreCommand,
      ...(o.keepArchiving ? { keepArchiving: true } : {}),
      signal: s.signal,
      progress,
    }),
  );
  s.out.emit({ message_type: 'summary', snapshot_id: r.base.id, target: o.target, range: r.range, settings: r.settings, files_restored: r.restore.files, bytes_restored: r.restore.bytes });
  s.out.print(`restored base backup ${r.base.short_id} (${formatBytes(r.restore.bytes)}) into ${o.target}`);
  s.out.print(`recovery: ${Object.entries(r.settings).filter(([k]) => k !== 'restore_command').map(([k, v]) => `${k}=${v}`).join(', ')}`);
  s.out.print(`available range: ${r.range.from_time} .. ${r.range.to_time ?? '?'}`);
  s.out.print(`start the server on this folder (pg_ctl -D ${o.target} start): it replays WAL to the target and promotes`);
}
