/**
 * Physical PostgreSQL backups: the data directory itself, read by the files archiver between
 * pg_backup_start and pg_backup_stop in one session (PostgreSQL's non-exclusive low-level API, as
 * pgBackRest does). No copy is spooled; files unchanged since the previous base backup are not read
 * again; the WAL that makes the copy consistent is in the archive (pg_backup_stop waits for it), and the
 * backup label goes into the snapshot. Lifeboat must run where the data directory is readable.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LifeboatError } from '../../core/index.ts';
import type { Repository, SnapshotEntry } from '../../repo/index.ts';
import { backupFiles, captureOptions, type BackupResult, type CaptureOptions } from '../files/index.ts';
import { PsqlSession, redactConn } from './pgtools.ts';
import { parseLsn, segmentOf, systemIdentifier } from './wal.ts';

export interface PhysicalSource {
  kind: 'postgres';
  mode: 'physical';
  target: string;
  server_version: string;
  server_version_num: number;
  system_identifier: string;
  data_directory: string;
  timeline: number;
  wal_segment_size: number;
  start_lsn: string;
  start_wal: string;
  stop_lsn: string;
  stop_wal: string;
  /** Server clock when the backup began / when pg_backup_stop returned: the earliest point it can recover to. */
  start_time: string;
  stop_time: string;
  backup_label: string;
  tablespace_map: string;
  databases: string[];
  [k: string]: unknown;
}

export interface PhysicalBackupOptions extends CaptureOptions {
  conn: string;
  /** How long pg_backup_stop may wait for the archive to take the last WAL. Default 10 minutes. */
  archiveTimeoutMs?: number;
}

/** What is left out of a data directory (PostgreSQL's documentation: "Backing Up the Data Directory"). */
export function dataDirExcludes(dir: string): string[] {
  const inside = ['pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans'];
  return [
    ...inside.map((d) => `${dir}/${d}/*`),
    ...['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'backup_label.old', 'recovery.signal', 'standby.signal'].map((f) => `${dir}/${f}`),
    'pgsql_tmp*',
    'pg_internal.init',
  ];
}

interface ServerFacts {
  data_directory: string;
  server_version: string;
  server_version_num: number;
  system_identifier: string;
  archive_mode: string;
  archive_command: string;
  archive_library: string;
  wal_segment_size: number;
  full_page_writes: string;
  in_recovery: boolean;
  databases: string[];
}

export async function backupPostgresPhysical(repo: Repository, opts: PhysicalBackupOptions): Promise<BackupResult> {
  const session = await PsqlSession.open(opts.conn, opts.signal ? { signal: opts.signal } : {});
  try {
    const facts = JSON.parse(
      await session.query(`SELECT json_build_object(
        'data_directory', current_setting('data_directory'), 'server_version', current_setting('server_version'),
        'server_version_num', current_setting('server_version_num')::int,
        'system_identifier', (SELECT system_identifier::text FROM pg_control_system()),
        'archive_mode', current_setting('archive_mode'), 'archive_command', current_setting('archive_command'),
        'archive_library', coalesce(current_setting('archive_library', true), ''),
        'wal_segment_size', (SELECT setting::int * CASE unit WHEN 'B' THEN 1 WHEN 'kB' THEN 1024 WHEN 'MB' THEN 1048576 ELSE 1 END FROM pg_settings WHERE name = 'wal_segment_size'),
        'full_page_writes', current_setting('full_page_writes'), 'in_recovery', pg_is_in_recovery(),
        'databases', (SELECT json_agg(datname ORDER BY datname) FROM pg_database WHERE datallowconn))`),
    ) as ServerFacts;
    checkServer(facts, opts.conn);
    const dir = facts.data_directory;
    const label = `lifeboat ${new Date(repo.clock.now()).toISOString()}`;
    const start = JSON.parse(
      await session.query(`SELECT json_build_object('lsn', lsn::text, 'time', clock_timestamp()::text,
        'timeline', (SELECT timeline_id FROM pg_control_checkpoint())) FROM pg_backup_start('${label}', true) AS lsn`),
    ) as { lsn: string; time: string; timeline: number };
    const startLsn = parseLsn(start.lsn);
    const source: PhysicalSource = {
      kind: 'postgres',
      mode: 'physical',
      target: redactConn(opts.conn),
      server_version: facts.server_version,
      server_version_num: facts.server_version_num,
      system_identifier: facts.system_identifier,
      data_directory: dir,
      timeline: start.timeline,
      wal_segment_size: facts.wal_segment_size,
      start_lsn: start.lsn,
      start_wal: segmentOf(startLsn, start.timeline, facts.wal_segment_size),
      stop_lsn: '',
      stop_wal: '',
      start_time: start.time,
      stop_time: '',
      backup_label: '',
      tablespace_map: '',
      databases: facts.databases,
    };
    return await backupFiles(repo, {
      paths: [dir],
      excludes: dataDirExcludes(dir),
      source,
      consistency: 'application',
      ...captureOptions(opts),
      // Files that change or vanish while copied are expected here: WAL replay from the start position
      // repairs them. Only unreadable files are reported.
      onWarning: (w) => {
        if (w.kind !== 'changed' && w.kind !== 'vanished') opts.onWarning?.(w);
      },
      finalize: async (snap) => {
        const timeout = opts.archiveTimeoutMs ?? 10 * 60_000;
        await session.query(`SET statement_timeout = ${Math.max(1, Math.round(timeout))}`);
        let stop: { lsn: string; labelfile: string; spcmapfile: string; time: string };
        try {
          stop = JSON.parse(
            await session.query(`SELECT json_build_object('lsn', s.lsn::text, 'labelfile', s.labelfile, 'spcmapfile', coalesce(s.spcmapfile, ''),
              'time', clock_timestamp()::text) FROM pg_backup_stop(true) s`),
          ) as typeof stop;
        } catch (err) {
          if (/statement timeout/i.test((err as Error).message)) {
            throw new LifeboatError('SOURCE', `the WAL archive did not take the backup's last WAL segment within ${Math.round(timeout / 1000)} s; no snapshot was saved`, {
              hint: 'check that archive_command (lifeboat wal push) succeeds: see the server log and pg_stat_archiver',
              cause: err,
            });
          }
          throw err;
        }
        const src = snap.source as PhysicalSource;
        src.stop_lsn = stop.lsn;
        src.stop_wal = segmentOf(parseLsn(stop.lsn), start.timeline, facts.wal_segment_size);
        src.stop_time = stop.time;
        src.backup_label = stop.labelfile;
        src.tablespace_map = stop.spcmapfile;
        await opts.finalize?.(snap);
      },
    });
  } finally {
    // Closing the session also ends backup mode if anything failed before pg_backup_stop.
    await session.close();
  }
}

function checkServer(f: ServerFacts, conn: string): void {
  const target = redactConn(conn);
  if (f.in_recovery) {
    throw new LifeboatError('USAGE', `${target} is a standby; base backups are taken from the primary for now`);
  }
  if (f.archive_mode === 'off' || (!f.archive_command && !f.archive_library) || f.archive_command === '(disabled)') {
    throw new LifeboatError('USAGE', `WAL archiving is not enabled on ${target}: a base backup without its WAL cannot be restored`, {
      hint:
        "set in postgresql.conf: archive_mode = on and archive_command = 'lifeboat wal push -r REPO --password-file FILE %p', then restart " +
        'the server (see `lifeboat wal --help`)',
    });
  }
  if (f.full_page_writes !== 'on') {
    throw new LifeboatError('USAGE', `full_page_writes is off on ${target}: an online copy of the data directory would not be safe`, { hint: 'set full_page_writes = on' });
  }
  if (!existsSync(join(f.data_directory, 'global', 'pg_control'))) {
    throw new LifeboatError('USAGE', `the data directory ${f.data_directory} of ${target} is not readable here`, {
      hint: 'run the physical backup on the database host, as root or the postgres user',
    });
  }
  if (systemIdentifier(f.data_directory) !== f.system_identifier) {
    throw new LifeboatError('USAGE', `${f.data_directory} here is not the data directory of ${target} (another cluster)`, {
      hint: 'run the physical backup on the database host',
    });
  }
}

export function physicalSource(snap: Pick<SnapshotEntry, 'source'>): PhysicalSource | undefined {
  const s = snap.source as Partial<PhysicalSource>;
  return s.kind === 'postgres' && s.mode === 'physical' && typeof s.stop_lsn === 'string' && s.stop_lsn !== '' ? (s as PhysicalSource) : undefined;
}
