/**
 * Physical backups and point-in-time recovery against a real PostgreSQL cluster whose archive_command is
 * the real `lifeboat wal push` (run by the server, as the postgres user) and whose restore is replayed by
 * the real `lifeboat wal fetch`.
 */
import assert from 'node:assert/strict';
import { existsSync, renameSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { LifeboatError } from '../../../src/core/index.ts';
import {
  backupPostgresPhysical,
  findGaps,
  listWal,
  parseLsn,
  restorePostgresCluster,
  type PhysicalSource,
} from '../../../src/sources/postgres/index.ts';
import { giveToPostgres, PgCluster, postgresIds } from '../../helpers/postgres.ts';
import { newRepo, PASSWORD, tempDir } from '../../helpers/repo.ts';
import { waitFor } from '../../helpers/wait.ts';
import { lifeboat, show } from '../../cli/run-cli.ts';
import type { Repository } from '../../../src/repo/index.ts';

const bin = resolve(import.meta.dirname, '../../../bin/lifeboat.js');

/** A repository the server's archive_command can write to, and the commands that use it. */
async function archiveSetup(dir: string): Promise<{ repo: Repository; push: string; fetch: string }> {
  const repo = await newRepo(dir);
  const pw = join(dir, 'password');
  writeFileSync(pw, PASSWORD + '\n', { mode: 0o600 });
  const { uid, gid } = postgresIds();
  chownSync(pw, uid, gid);
  giveToPostgres(join(dir, 'repo'));
  const base = `${process.execPath} ${bin} -q -r ${join(dir, 'repo')} --password-file ${pw}`;
  return { repo, push: `${base} wal push %p`, fetch: `${base} wal fetch %f "%p"` };
}

/** Switch to a new WAL segment and wait until the archive has taken the one just finished. */
async function switchAndArchive(pg: PgCluster): Promise<string> {
  const seg = await pg.sql('SELECT pg_walfile_name(pg_switch_wal())');
  await waitFor(`archiving of ${seg}`, async () => (await pg.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")) >= seg, 120_000);
  return seg;
}

test('point in time: a destroyed cluster comes back holding exactly the rows committed before T', async (t) => {
  const dir = await tempDir(t);
  const { repo, push, fetch } = await archiveSetup(dir);
  const pg = await PgCluster.create(t, join(dir, 'pg'), { conf: ['wal_level = replica', 'archive_mode = on', `archive_command = '${push}'`] });
  await pg.sql('CREATE TABLE ticks (id int PRIMARY KEY, payload text NOT NULL)');
  await pg.sql("INSERT INTO ticks SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g");

  const res = await backupPostgresPhysical(repo, { conn: pg.conn() });
  const src = res.snapshot.source as PhysicalSource;
  assert.equal(src.mode, 'physical');
  assert.match(src.backup_label, /START WAL LOCATION/);
  assert.ok(parseLsn(src.stop_lsn) >= parseLsn(src.start_lsn));
  assert.equal(res.snapshot.consistency, 'application');

  // The writer: numbered rows, one transaction each. T is read from the server's clock between two
  // commits, so exactly the rows up to `before` were committed before T.
  let id = 1000;
  const insert = async (n: number): Promise<void> => {
    const values = Array.from({ length: n }, () => `(${++id}, 'row')`);
    // One statement per row: each its own transaction, in order.
    await pg.script(values.map((v) => `INSERT INTO ticks VALUES ${v};`).join('\n'));
  };
  await insert(200);
  await switchAndArchive(pg);
  await insert(150);
  const before = id;
  const T = await pg.sql('SELECT clock_timestamp()::text');
  await insert(150);
  await pg.sql("SELECT pg_create_restore_point('before_last_batch')");
  const atPoint = id;
  await switchAndArchive(pg);
  await insert(50);
  await switchAndArchive(pg);
  assert.equal(await pg.sql('SELECT max(id) FROM ticks'), String(id));

  // The site burns down.
  await pg.stop();
  rmSync(pg.datadir, { recursive: true, force: true });

  // Outside the archive's range: refused, with the range, and nothing is written.
  const target = join(dir, 'restored', 'data');
  await assert.rejects(restorePostgresCluster(repo, { target, time: '2001-01-01 00:00:00+00', restoreCommand: fetch }), (err: unknown) => {
    assert.ok(err instanceof LifeboatError && err.code === 'OUT_OF_RANGE');
    assert.match(err.message, /before the end of the oldest base backup; available from \d{4}-.* to \d{4}-/);
    return true;
  });
  await assert.rejects(restorePostgresCluster(repo, { target, time: '2999-01-01 00:00:00+00', restoreCommand: fetch }), (err: unknown) => {
    assert.ok(err instanceof LifeboatError && err.code === 'OUT_OF_RANGE');
    assert.match(err.message, /after the last transaction in the WAL archive/);
    assert.match(err.hint ?? '', /pg_switch_wal/);
    return true;
  });

  const r = await restorePostgresCluster(repo, { target, time: T, restoreCommand: fetch });
  assert.equal(r.base.id, res.id);
  assert.match(r.settings['recovery_target_time']!, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}\+00$/);

  const restored = await PgCluster.adopt(t, join(dir, 'restored', 'run'), target);
  await restored.start();
  await waitFor('promotion after recovery', async () => (await restored.sql('SELECT pg_is_in_recovery()')) === 'f', 120_000);
  assert.equal(await restored.sql('SELECT count(*) || \' \' || max(id) FROM ticks'), `${before} ${before}`);
  // No corruption, by PostgreSQL's own checker (heap and B-tree).
  const check = await restored.asPostgres('pg_amcheck', ['-h', restored.dir, '-p', String(restored.port), '-U', 'postgres', '--all', '--install-missing', '--heapallindexed'], { check: false });
  assert.equal(check.code, 0, `pg_amcheck: ${check.stdout.toString()}${check.stderr}`);
  // The restored cluster is writable (promoted to a new timeline).
  await restored.sql("INSERT INTO ticks VALUES (999999, 'after restore')");
  await restored.stop();

  // The same archive, through the CLI, to a named restore point (the restore_command it writes uses the
  // same repository and password file).
  const target2 = join(dir, 'restored2', 'data');
  const cli = await lifeboat(['-r', join(dir, 'repo'), '--password-file', join(dir, 'password'), '--json', 'restore', '--restore-point', 'before_last_batch', '--target', target2]);
  assert.equal(cli.code, 0, show(cli));
  const summary = JSON.parse(cli.stdout.trim().split('\n').pop()!) as { settings: Record<string, string>; range: { to_time: string } };
  assert.equal(summary.settings['recovery_target_name'], 'before_last_batch');
  const second = await PgCluster.adopt(t, join(dir, 'restored2', 'run'), target2);
  await second.start();
  await waitFor('promotion at the restore point', async () => (await second.sql('SELECT pg_is_in_recovery()')) === 'f', 120_000);
  assert.equal(await second.sql('SELECT max(id) FROM ticks'), String(atPoint));
  await second.stop();

  // A restore point that was never made: refused, not a server that stops with FATAL after replaying it all.
  const target3 = join(dir, 'restored3', 'data');
  await assert.rejects(restorePostgresCluster(repo, { target: target3, restorePoint: 'never_made', restoreCommand: fetch }), { code: 'OUT_OF_RANGE', message: /restore point "never_made"/ });
  // A segment lost from the middle of the archive: a point past it is refused with the range that is reachable.
  const { range } = summary as unknown as { range: { to_time: string; to_lsn: string } };
  const segs = (await listWal(repo, src.system_identifier)).map((f) => f.file).filter((f) => /^[0-9A-F]{24}$/.test(f));
  const lost = segs[segs.length - 2]!;
  await repo.backend.remove({ type: 'wal', name: `${src.system_identifier}-${lost}` });
  for (const target of [{ time: range.to_time }, { lsn: range.to_lsn }]) {
    await assert.rejects(restorePostgresCluster(repo, { target: target3, ...target, restoreCommand: fetch }), (err: unknown) => {
      assert.ok(err instanceof LifeboatError && err.code === 'OUT_OF_RANGE', String(err));
      assert.match(err.message, new RegExp(`the WAL archive lacks ${lost}.*recovery reaches from `));
      return true;
    });
  }
  assert.equal(existsSync(join(dir, 'restored3')), false, 'nothing was written');
});

test('the WAL archive survives the repository being away: PostgreSQL retries and no segment is lost', async (t) => {
  const dir = await tempDir(t);
  const { repo, push } = await archiveSetup(dir);
  const pg = await PgCluster.create(t, join(dir, 'pg'), { conf: ['wal_level = replica', 'archive_mode = on', `archive_command = '${push}'`] });
  await pg.sql('CREATE TABLE t (id serial PRIMARY KEY, v text)');
  const base = await backupPostgresPhysical(repo, { conn: pg.conn() });
  const src = base.snapshot.source as PhysicalSource;

  // The repository disappears (an unmounted disk, a cut link).
  const repoDir = join(dir, 'repo');
  renameSync(repoDir, repoDir + '.away');
  const switched: string[] = [];
  for (let i = 0; i < 3; i++) {
    await pg.sql("INSERT INTO t (v) SELECT repeat('y', 200) FROM generate_series(1, 2000)");
    switched.push(await pg.sql('SELECT pg_walfile_name(pg_switch_wal())'));
  }
  await waitFor('a failed archive attempt', async () => Number(await pg.sql('SELECT failed_count FROM pg_stat_archiver')) > 0, 120_000);
  assert.ok((await pg.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")) < switched[0]!);

  // It comes back: PostgreSQL retries and catches up, in order.
  renameSync(repoDir + '.away', repoDir);
  await waitFor('the archive to catch up', async () => (await pg.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")) >= switched[2]!, 180_000);
  const files = (await listWal(repo, src.system_identifier)).map((f) => f.file);
  for (const s of switched) assert.ok(files.includes(s), `${s} archived`);
  assert.deepEqual(await findGaps(repo, src.system_identifier, { lsn: parseLsn(src.start_lsn), tli: src.timeline }, src.wal_segment_size), []);
});
