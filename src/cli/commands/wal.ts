/** `lifeboat wal push|fetch|list`: PostgreSQL's archive_command and restore_command, and the archive's contents. */
import type { Command } from 'commander';
import { NotFoundError } from '../../core/index.ts';
import { baseBackups, fetchWal, findGaps, listArchivedClusters, listWal, parseLsn, pushWal, systemIdentifier } from '../../sources/postgres/index.ts';
import { Session, type Runtime } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatBytes } from '../output.ts';

interface WalFlags {
  pgdata?: string;
}

function pgdataOf(o: WalFlags, rt: Runtime): string {
  return o.pgdata ?? rt.env['PGDATA'] ?? process.cwd();
}

export function registerWal(program: Command, rt: Runtime): void {
  const wal = program
    .command('wal')
    .summary('archive and fetch PostgreSQL write-ahead log (archive_command / restore_command)')
    .description(
      'The WAL archive that point-in-time recovery replays. PostgreSQL calls `lifeboat wal push` for every WAL file it ' +
        'finishes and, while recovering, `lifeboat wal fetch` for every file it needs. Files are compressed, encrypted ' +
        'and checksummed in the repository, kept apart per cluster (by its system identifier). Retention: `lifeboat ' +
        'forget --prune` removes WAL older than the oldest kept base backup; `lifeboat check` reports gaps.',
    )
    .addHelpText(
      'after',
      `
SETUP (postgresql.conf; then restart the server)
  archive_mode = on
  archive_command = 'lifeboat wal push -r /srv/backup --password-file /etc/lifeboat/password %p'
  # the postgres user must be able to read the password file and write the repository

  A base backup: lifeboat backup --postgres 'host=/run/postgresql dbname=postgres' --physical
  Recovery:      lifeboat restore --pitr '2026-11-30 14:05:00+01' --target /var/lib/postgresql/15/restored
                 (it writes restore_command = 'lifeboat wal fetch ... %f "%p"' into the restored folder)

EXAMPLES
  lifeboat wal list                     # archived files of every cluster
  lifeboat wal push pg_wal/000000010000000000000003 --pgdata /var/lib/postgresql/15/main

EXIT STATUS
  0   pushed (or already archived with the same content) / fetched
  1   failed: PostgreSQL keeps the file and retries; for fetch, the file is not archived (the end of recovery)
  10  the repository does not exist
  12  wrong password`,
    );

  wal
    .command('push')
    .summary('archive one WAL file (archive_command)')
    .argument('<path>', 'the WAL file (%p in archive_command: relative to the data directory)')
    .option('--pgdata <dir>', 'the data directory (default: $PGDATA, else the current folder, which is where PostgreSQL runs archive_command)')
    .description(
      'Store one WAL file in the repository. Succeeds when the file is already archived with the same content (PostgreSQL ' +
        'may push a file again after a crash) and fails, keeping the stored copy, when the content differs.',
    )
    .addHelpText('after', "\nEXAMPLES\n  archive_command = 'lifeboat wal push -r /srv/backup --password-file /etc/lifeboat/pw %p'\n\nEXIT STATUS\n  0   archived\n  1   not archived: PostgreSQL will retry")
    .action(async (path: string, o: WalFlags, c: Command) => {
      const s = Session.of(rt, c);
      const sysid = systemIdentifier(pgdataOf(o, rt));
      await s.withRepo(async (repo) => {
        const outcome = await pushWal(repo, path, { sysid, signal: s.signal });
        s.out.emit({ file: path, system_identifier: sysid, outcome });
        s.out.detail(`${path}: ${outcome}`);
      });
    });

  wal
    .command('fetch')
    .summary('restore one WAL file (restore_command)')
    .argument('<file>', 'WAL file name (%f)')
    .argument('<dest>', 'where to write it (%p)')
    .option('--pgdata <dir>', 'the data directory (default: $PGDATA, else the current folder)')
    .option('--system-identifier <id>', 'the cluster whose archive to read (default: from the data directory)')
    .description('Write one archived WAL file to DEST. A file that is not in the archive exits 1 quietly: for recovery that means "no more WAL".')
    .addHelpText('after', `\nEXAMPLES\n  restore_command = 'lifeboat wal fetch -r /srv/backup --password-file /etc/lifeboat/pw %f "%p"'\n\nEXIT STATUS\n  0   written\n  1   not archived, or failed`)
    .action(async (file: string, dest: string, o: WalFlags & { systemIdentifier?: string }, c: Command) => {
      const s = Session.of(rt, c);
      const sysid = o.systemIdentifier ?? systemIdentifier(pgdataOf(o, rt));
      await s.withRepo(async (repo) => {
        try {
          await fetchWal(repo, file, dest, { sysid, signal: s.signal });
        } catch (err) {
          if (err instanceof NotFoundError) {
            s.out.detail(`${file} is not archived`);
            s.exitWith(ExitCode.fatal);
            return;
          }
          throw err;
        }
        s.out.detail(`${file} written to ${dest}`);
      });
    });

  wal
    .command('list')
    .summary('list archived WAL per cluster, with gaps')
    .option('--system-identifier <id>', 'only this cluster')
    .description('List the archived WAL files of each cluster, their total size, and gaps after the oldest base backup.')
    .addHelpText('after', '\nEXAMPLES\n  lifeboat wal list\n  lifeboat --json wal list | jq ".[0].files | length"\n\nEXIT STATUS\n  0   listed, no gaps\n  1   fatal error\n  13  a gap was found')
    .action(async (o: { systemIdentifier?: string }, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(async (repo) => {
        const ids = o.systemIdentifier ? [o.systemIdentifier] : await listArchivedClusters(repo, s.signal);
        const out = [];
        for (const id of ids) {
          const files = await listWal(repo, id, s.signal);
          const bases = await baseBackups(repo, id, s.signal);
          const oldest = bases[0]?.src;
          const gaps = oldest ? await findGaps(repo, id, { lsn: parseLsn(oldest.start_lsn), tli: oldest.timeline }, oldest.wal_segment_size, s.signal) : [];
          out.push({ system_identifier: id, files, bytes: files.reduce((a, f) => a + f.size, 0), base_backups: bases.length, gaps });
          s.out.print(`cluster ${id}: ${files.length} files, ${formatBytes(files.reduce((a, f) => a + f.size, 0))} stored, ${bases.length} base backup(s)`);
          if (files.length) s.out.print(`  ${files[0]!.file} .. ${files[files.length - 1]!.file}`);
          for (const g of gaps) s.out.warn(`  gap: ${g.from} .. ${g.to} (${g.reason})`);
          if (gaps.length) s.exitWith(ExitCode.integrity);
        }
        if (ids.length === 0) s.out.print('no WAL archived');
        s.out.emit(out);
      });
    });
}
