/** `lifeboat restore SNAPSHOT --target DIR`: bring back a snapshot, or parts of it. */
import { Option, type Command } from 'commander';
import { newRestoreProgress, restoreFiles } from '../../sources/files/index.ts';
import { collect, Session, type Runtime } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatBytes, formatDuration, restoreProgressView, withProgress } from '../output.ts';
import { addFilterOptions, filterFrom, pickSnapshot, type FilterOptions } from '../snapshot-args.ts';

interface RestoreFlags extends FilterOptions {
  target: string;
  include?: string[];
  verify?: boolean;
  delete?: boolean;
}

export function registerRestore(program: Command, rt: Runtime): void {
  const cmd = program
    .command('restore')
    .summary('restore a snapshot, or files from it, into a folder')
    .argument('<snapshot>', '"latest", a snapshot id, or a unique prefix of one')
    .description(
      'Restore a snapshot into a target folder, with its metadata (owners when run as root, modes, times, ' +
        'extended attributes, hard links). Paths inside the snapshot are absolute and are recreated below the ' +
        'target: /home/ann/report.odt restores to TARGET/home/ann/report.odt. --include restores only the given ' +
        'paths (and everything below them). Nothing is written outside the target. A file that cannot be ' +
        'restored (damaged data, a write error) is reported, the others are restored, and the exit status is 3. ' +
        'With "latest", --host, --tag and --path choose among the snapshots.',
    )
    .addOption(new Option('-t, --target <dir>', 'folder to restore into (created if needed)').makeOptionMandatory())
    .option('-i, --include <path>', 'restore only this absolute snapshot path and what is below it (repeatable)', collect)
    .option('--verify', 'read every restored file back and compare it with the snapshot')
    .option('--delete', 'remove files in the target that the snapshot does not have (inside restored folders): an exact rollback');
  addFilterOptions(cmd, 'consider snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup restore latest --target /tmp/restore
  lifeboat restore 3f9a1c2e --target /tmp/r --include /home/ann/report.odt
  lifeboat restore latest --host web1 --path /srv/www --target /srv/www-restored --verify
  lifeboat restore 3f9a1c2e --target / --include /srv/share --delete --verify   # roll /srv/share back in place

OUTPUT
  Human: a summary of the files, folders and bytes restored; warnings on stderr as they happen.
  --json: a {"message_type":"error",...} line per failed file, then a {"message_type":"summary",...} line.

EXIT STATUS
  0   everything was restored
  1   fatal error
  2   usage error (no --target, a relative --include path)
  3   the restore finished, but some files failed (listed as warnings)
  10  the repository does not exist
  11  the repository is locked exclusively (prune running)
  12  wrong password
  13  a snapshot or tree could not be read back intact`,
    )
    .action(async (ref: string, o: RestoreFlags, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(async (repo) => {
        const snap = await pickSnapshot(s, repo, ref, filterFrom(o));
        s.out.print(`restoring snapshot ${snap.short_id} of [${snap.paths.join(', ')}] at ${snap.time} by ${snap.username}@${snap.hostname} to ${o.target}`);
        const progress = newRestoreProgress();
        const started = performance.now();
        const result = await withProgress(restoreProgressView(s.out, progress), () =>
          restoreFiles(repo, snap, {
            target: o.target,
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
