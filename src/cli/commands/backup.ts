/** `lifeboat backup PATH...`: save a snapshot of files and folders. */
import { Option, type Command } from 'commander';
import { LifeboatError } from '../../core/index.ts';
import { runBackup } from '../../jobs/index.ts';
import type { SnapshotEntry } from '../../repo/index.ts';
import { newProgress, prestartBackupWorkers, readExcludeFile, scanTotals, type ScanTotals } from '../../sources/files/index.ts';
import { postHookFailed } from '../../sources/hooks/index.ts';
import { snapshotSource, type MemberSpec } from '../../sources/index.ts';
import { collect, collectList, Session, type Runtime } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { backupProgressView, formatBytes, formatClock, withProgress } from '../output.ts';
import { pickSnapshot } from '../snapshot-args.ts';

interface BackupFlags {
  exclude?: string[];
  excludeFile?: string[];
  oneFileSystem?: boolean;
  tag?: string[];
  host?: string;
  parent?: string;
  force?: boolean;
  postgres?: string;
  physical?: boolean;
  jobs?: string;
  spool?: string;
  sqlite?: string;
  preHook?: string;
  postHook?: string;
  hookTimeout?: string;
}

function positiveInt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new LifeboatError('USAGE', `${flag} takes a whole number of at least 1, not ${v}`);
  return n;
}

export function registerBackup(program: Command, rt: Runtime): void {
  program
    .command('backup')
    .summary('save a snapshot of files and folders, a PostgreSQL database or cluster, or an SQLite database')
    .argument('[path...]', 'files and folders to back up')
    .description(
      'Save a snapshot of the given files and folders, or of a database with --postgres or --sqlite.\n\n' +
        'Files: paths are stored as absolute paths. Only what changed since ' +
        'the parent snapshot is read: by default the latest snapshot of the same host and paths, or the one given ' +
        'with --parent; --force reads everything. Files that cannot be read are reported as they are met and the ' +
        'backup goes on; the snapshot is saved and the exit status is 3.\n\n' +
        'Exclude patterns: a pattern without "/" matches a name at any depth (*.tmp, node_modules); a pattern with ' +
        '"/" matches the absolute path (/home/*/.cache); "**" spans folders. An exclude file has one pattern per ' +
        'line; blank lines and lines starting with # are ignored.\n\n' +
        'PostgreSQL (--postgres CONN, a libpq connection string, URI or service=NAME): by default a logical backup of the ' +
        'database CONN names, with pg_dump in directory format (--jobs in parallel, uncompressed so that daily dumps ' +
        'deduplicate), consistent with the table list recorded in the snapshot. With --physical, a base backup of the ' +
        'whole cluster for point-in-time recovery: the data directory is read in place (run on the database host) ' +
        'between pg_backup_start and pg_backup_stop, and needs WAL archiving to this repository (lifeboat wal --help).\n\n' +
        'SQLite (--sqlite FILE): a consistent copy made with SQLite\'s online backup API while writers go on, checked ' +
        'with PRAGMA quick_check before it is stored under the file\'s path.\n\n' +
        'Hooks: --pre-hook runs before anything is read (to flush or freeze an application); if it fails, no backup is ' +
        'taken. --post-hook always runs afterwards, also after a failure (LIFEBOAT_BACKUP_STATUS=ok|failed). The ' +
        'snapshot records both and their exit status.',
    )
    .option('-e, --exclude <glob>', 'leave out matching files and folders (repeatable)', collect)
    .option('--exclude-file <file>', 'read exclude patterns from FILE (repeatable)', collect)
    .option('-x, --one-file-system', 'do not cross into other file systems below the given paths')
    .option('--tag <tag[,tag...]>', 'add tags to the snapshot (repeatable, or comma-separated)', collectList)
    .option('--host <name>', 'record this host name instead of the machine\'s')
    .option('--parent <snapshot>', 'compare against this snapshot (id or prefix) to skip unchanged files')
    .addOption(new Option('--force', 'use no parent: read every file again').conflicts('parent'))
    .option('--postgres <conn>', 'back up a PostgreSQL database (pg_dump), or with --physical the whole cluster')
    .option('--physical', 'with --postgres: a base backup of the cluster for point-in-time recovery')
    .option('--jobs <n>', 'with --postgres: pg_dump parallel jobs (default 2)')
    .option('--spool <dir>', 'with --postgres: folder for the dump while it is stored (default: the temp folder)')
    .option('--sqlite <file>', 'back up an SQLite database with its online backup API')
    .option('--pre-hook <command>', 'run before the backup (sh -c); a failure cancels the backup')
    .option('--post-hook <command>', 'run after the backup, always, also when it failed')
    .option('--hook-timeout <seconds>', 'kill a hook after this long (default 300)')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup backup /home /etc
  lifeboat backup /srv/share --exclude '*.tmp' --exclude /srv/share/cache --tag nightly
  lifeboat backup / -x --exclude-file /etc/lifeboat/excludes
  lifeboat --json backup /data | tail -n1    # {"message_type":"summary",...,"snapshot_id":"..."}
  lifeboat backup --postgres 'host=/run/postgresql dbname=shop' --tag daily
  lifeboat backup --postgres postgresql://backup@db1/postgres --physical
  lifeboat backup --sqlite /srv/app/app.db --pre-hook 'systemctl kill -s USR1 app' --post-hook 'logger backup done'

OUTPUT
  Human: a summary of new, changed and unmodified files, the data added, and the snapshot id.
  --json: a {"message_type":"error",...} line per file that could not be read, then one restic-compatible
  {"message_type":"summary",...} line with files_new, files_changed, data_added, snapshot_id and more.

EXIT STATUS
  0   the snapshot was saved with everything
  1   fatal error: no snapshot was saved
  2   usage error (bad option, a path that does not exist)
  3   the snapshot was saved, but some files could not be read, vanished or changed while read,
      or the post hook failed
  10  the repository does not exist
  11  the repository is locked exclusively (prune running)
  12  wrong password
  14  the database could not be reached (connection or login failed): no snapshot was saved
  130 interrupted: no snapshot was saved`,
    )
    .action(async (paths: string[], o: BackupFlags, cmd: Command) => {
      const s = Session.of(rt, cmd);
      const sources = [paths.length > 0, o.postgres !== undefined, o.sqlite !== undefined].filter(Boolean).length;
      if (sources !== 1) {
        throw new LifeboatError('USAGE', sources === 0 ? 'nothing to back up' : 'back up paths, --postgres or --sqlite: one kind per snapshot', {
          hint: 'lifeboat backup PATH... | --postgres CONN [--physical] | --sqlite FILE',
        });
      }
      if (o.physical && o.postgres === undefined) throw new LifeboatError('USAGE', '--physical goes with --postgres CONN');
      const jobs = positiveInt(o.jobs, '--jobs');
      const hookTimeout = positiveInt(o.hookTimeout, '--hook-timeout');
      const excludes = [...(o.exclude ?? []), ...(o.excludeFile ?? []).flatMap((f) => readExcludeFile(f))];
      // A backup of files: its read-ahead worker boots while the key is derived.
      if (paths.length > 0) prestartBackupWorkers();
      const member: MemberSpec =
        o.postgres !== undefined
          ? o.physical
            ? { kind: 'postgres', mode: 'physical', conn: o.postgres }
            : { kind: 'postgres', mode: 'logical', conn: o.postgres, ...(jobs ? { jobs } : {}) }
          : o.sqlite !== undefined
            ? { kind: 'sqlite', path: o.sqlite }
            : { kind: 'files', paths, excludes, oneFileSystem: !!o.oneFileSystem };
      await s.withRepo(async (repo) => {
        const progress = newProgress();
        let parent: SnapshotEntry | false | undefined;
        if (o.force) parent = false;
        else if (o.parent) {
          parent = await pickSnapshot(s, repo, o.parent);
          s.out.detail(`using parent snapshot ${parent.short_id}`);
        }
        if (member.kind === 'postgres') s.out.detail(member.mode === 'physical' ? 'base backup: pg_backup_start' : 'pg_dump running');
        // Files: count what the backup will look at, alongside it, for the ETA (only when progress is drawn).
        const totals: ScanTotals = { files: 0, bytes: 0, done: false };
        const scanStop = new AbortController();
        if (member.kind === 'files' && s.out.showProgress) {
          void scanTotals(paths, { excludes, ...(o.oneFileSystem ? { oneFileSystem: true } : {}), signal: scanStop.signal, totals }).catch(() => undefined);
        }
        const job = await withProgress(backupProgressView(s.out, progress, totals), () =>
          runBackup(repo, {
            members: [member],
            ...(o.tag?.length ? { tags: o.tag } : {}),
            ...(o.host ? { hostname: o.host } : {}),
            hooks: { ...(o.preHook ? { pre: o.preHook } : {}), ...(o.postHook ? { post: o.postHook } : {}), ...(hookTimeout ? { timeoutMs: hookTimeout * 1000 } : {}) },
            ...(parent !== undefined ? { parent } : {}),
            ...(o.spool ? { spool: o.spool } : {}),
            signal: s.signal,
            progress,
            onWarning: (w) => s.out.warn(`${w.path}: ${w.message}`, { message_type: 'error', error: { message: w.message }, during: 'archival', item: w.path, kind: w.kind }),
          }).finally(() => scanStop.abort()),
        );
        const ran = job.hooks;
        if (ran.pre) s.out.detail(`pre hook: exit ${String(ran.pre.exit_code)} in ${ran.pre.duration_ms} ms`);
        if (ran.post) s.out.detail(`post hook: exit ${String(ran.post.exit_code)} in ${ran.post.duration_ms} ms`);
        const outcome = job.members[0]!;
        if (!outcome.result) throw outcome.error!;
        const result = outcome.result;
        const src = snapshotSource(result.snapshot);
        if (src?.kind === 'postgres' && src.mode === 'logical') {
          const db = src.database;
          s.out.print(`database ${db.name} (PostgreSQL ${db.server_version}): ${db.tables.length} tables, ${db.tables.reduce((a, t) => a + (t.rows ?? 0), 0)} rows`);
        }
        const sum = result.snapshot.summary;
        const durationMs = sum ? Date.parse(sum.backup_end) - Date.parse(sum.backup_start) : 0;
        if (sum) {
          s.out.emit({
            message_type: 'summary',
            files_new: sum.files_new,
            files_changed: sum.files_changed,
            files_unmodified: sum.files_unmodified,
            dirs_new: sum.dirs_new,
            dirs_changed: sum.dirs_changed,
            dirs_unmodified: sum.dirs_unmodified,
            data_blobs: sum.data_blobs,
            tree_blobs: sum.tree_blobs,
            data_added: sum.data_added,
            data_added_packed: sum.data_added_packed,
            total_files_processed: sum.total_files_processed,
            total_bytes_processed: sum.total_bytes_processed,
            total_duration: durationMs / 1000,
            backup_start: sum.backup_start,
            backup_end: sum.backup_end,
            errors: result.warnings.length,
            snapshot_id: result.id,
          });
          const n = (v: number): string => String(v).padStart(6);
          s.out.print(`Files:       ${n(sum.files_new)} new, ${n(sum.files_changed)} changed, ${n(sum.files_unmodified)} unmodified`);
          s.out.print(`Dirs:        ${n(sum.dirs_new)} new, ${n(sum.dirs_changed)} changed, ${n(sum.dirs_unmodified)} unmodified`);
          s.out.print(`Added to the repository: ${formatBytes(sum.data_added)} (${formatBytes(sum.data_added_packed)} stored)`);
          s.out.print('');
          s.out.print(`processed ${sum.total_files_processed} files, ${formatBytes(sum.total_bytes_processed)} in ${formatClock(durationMs)}`);
        } else {
          s.out.emit({ message_type: 'summary', snapshot_id: result.id, errors: result.warnings.length });
        }
        s.out.print(`snapshot ${result.id.slice(0, 8)} saved`);
        if (outcome.incomplete > 0) s.out.warn(`${outcome.incomplete} file(s) could not be read completely; the snapshot holds everything else`);
        if (postHookFailed(ran)) s.out.warn(`the post hook failed (${ran.post?.error ?? 'unknown'}); the snapshot was saved and records it`);
        if (job.status === 'partial') s.exitWith(ExitCode.partial);
      });
    });
}
