/** `lifeboat backup PATH...`: save a snapshot of files and folders. */
import { Option, type Command } from 'commander';
import { backupFiles, newProgress, readExcludeFile, scanTotals, type BackupOptions, type BackupWarning, type ScanTotals } from '../../sources/files/index.ts';
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
}

/** Warnings that mean the snapshot misses or may misrepresent a file: exit 3. */
const incomplete: ReadonlySet<BackupWarning['kind']> = new Set(['unreadable', 'vanished', 'changed']);

export function registerBackup(program: Command, rt: Runtime): void {
  program
    .command('backup')
    .summary('save a snapshot of files and folders')
    .argument('<path...>', 'files and folders to back up')
    .description(
      'Save a snapshot of the given files and folders. Paths are stored as absolute paths. Only what changed since ' +
        'the parent snapshot is read: by default the latest snapshot of the same host and paths, or the one given ' +
        'with --parent; --force reads everything. Files that cannot be read are reported as they are met and the ' +
        'backup goes on; the snapshot is saved and the exit status is 3.\n\n' +
        'Exclude patterns: a pattern without "/" matches a name at any depth (*.tmp, node_modules); a pattern with ' +
        '"/" matches the absolute path (/home/*/.cache); "**" spans folders. An exclude file has one pattern per ' +
        'line; blank lines and lines starting with # are ignored.',
    )
    .option('-e, --exclude <glob>', 'leave out matching files and folders (repeatable)', collect)
    .option('--exclude-file <file>', 'read exclude patterns from FILE (repeatable)', collect)
    .option('-x, --one-file-system', 'do not cross into other file systems below the given paths')
    .option('--tag <tag[,tag...]>', 'add tags to the snapshot (repeatable, or comma-separated)', collectList)
    .option('--host <name>', 'record this host name instead of the machine\'s')
    .option('--parent <snapshot>', 'compare against this snapshot (id or prefix) to skip unchanged files')
    .addOption(new Option('--force', 'use no parent: read every file again').conflicts('parent'))
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup backup /home /etc
  lifeboat backup /srv/share --exclude '*.tmp' --exclude /srv/share/cache --tag nightly
  lifeboat backup / -x --exclude-file /etc/lifeboat/excludes
  lifeboat --json backup /data | tail -n1    # {"message_type":"summary",...,"snapshot_id":"..."}

OUTPUT
  Human: a summary of new, changed and unmodified files, the data added, and the snapshot id.
  --json: a {"message_type":"error",...} line per file that could not be read, then one restic-compatible
  {"message_type":"summary",...} line with files_new, files_changed, data_added, snapshot_id and more.

EXIT STATUS
  0   the snapshot was saved with everything
  1   fatal error: no snapshot was saved
  2   usage error (bad option, a path that does not exist)
  3   the snapshot was saved, but some files could not be read, vanished or changed while read
  10  the repository does not exist
  11  the repository is locked exclusively (prune running)
  12  wrong password
  130 interrupted: no snapshot was saved`,
    )
    .action(async (paths: string[], o: BackupFlags, cmd: Command) => {
      const s = Session.of(rt, cmd);
      const excludes = [...(o.exclude ?? []), ...(o.excludeFile ?? []).flatMap((f) => readExcludeFile(f))];
      await s.withRepo(async (repo) => {
        let parent: BackupOptions['parent'];
        if (o.force) parent = false;
        else if (o.parent) {
          parent = await pickSnapshot(s, repo, o.parent);
          s.out.detail(`using parent snapshot ${parent.short_id}`);
        }
        const progress = newProgress();
        // Count what the backup will look at, alongside it, for the ETA (only when progress is drawn).
        const totals: ScanTotals = { files: 0, bytes: 0, done: false };
        const scanStop = new AbortController();
        if (s.out.showProgress) {
          void scanTotals(paths, { excludes, ...(o.oneFileSystem ? { oneFileSystem: true } : {}), signal: scanStop.signal, totals }).catch(() => undefined);
        }
        const view = backupProgressView(s.out, progress, totals);
        let incompleteCount = 0;
        const result = await withProgress(view, () =>
          backupFiles(repo, {
            paths,
            excludes,
            ...(o.oneFileSystem ? { oneFileSystem: true } : {}),
            ...(o.tag?.length ? { tags: o.tag } : {}),
            ...(o.host ? { hostname: o.host } : {}),
            ...(parent !== undefined ? { parent } : {}),
            signal: s.signal,
            progress,
            onWarning: (w) => {
              if (incomplete.has(w.kind)) incompleteCount++;
              s.out.warn(`${w.path}: ${w.message}`, { message_type: 'error', error: { message: w.message }, during: 'archival', item: w.path, kind: w.kind });
            },
          }).finally(() => scanStop.abort()),
        );
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
        if (incompleteCount > 0) {
          s.out.warn(`${incompleteCount} file(s) could not be read completely; the snapshot holds everything else`);
          s.exitWith(ExitCode.partial);
        }
      });
    });
}
