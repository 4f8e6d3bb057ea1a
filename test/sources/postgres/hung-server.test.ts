/**
 * PostgreSQL servers that stop answering: one that takes the connection and never says a word (a hung
 * server, a firewall that drops), a session whose query waits for ever (a lock), a pg_dump whose
 * connection stalls. Every backup ends: at the connect timeout with the server named, or at once when its
 * signal aborts it, and no psql or pg_dump is left running. A multi-host URI's password stays out of the
 * tools' arguments.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { isLifeboatError, type LifeboatError } from '../../../src/core/index.ts';
import { backupPostgresLogical, backupPostgresPhysical, redactConn } from '../../../src/sources/postgres/index.ts';
import { CONNECT_TIMEOUT_S, PsqlSession, splitPassword } from '../../../src/sources/postgres/pgtools.ts';
import { PgCluster } from '../../helpers/postgres.ts';
import { newRepo, tempDir } from '../../helpers/repo.ts';
import { waitFor } from '../../helpers/wait.ts';

/** This process's descendants (through /proc), with their command names. */
function descendants(pid = process.pid): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    let kids: number[] = [];
    try {
      kids = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
    } catch {
      continue;
    }
    for (const k of kids) {
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${k}/comm`, 'utf8').trim();
      } catch {
        /* gone */
      }
      out.push({ pid: k, comm }, ...descendants(k));
    }
  }
  return out;
}

const pgChildren = (): string[] => descendants().filter((d) => /^(psql|pg_dump|pg_dumpall|pg_restore)$/.test(d.comm)).map((d) => `${d.comm} ${d.pid}`);

/** A server that accepts connections and never answers; closed (and its sockets dropped) after the test. */
async function blackhole(t: { after: (fn: () => void) => void }): Promise<{ port: number; held: Socket[] }> {
  const held: Socket[] = [];
  const s: Server = createServer((sock) => void held.push(sock));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const h of held) h.destroy();
    s.close();
  });
  return { port: (s.address() as { port: number }).port, held };
}

async function rejection(p: Promise<unknown>): Promise<LifeboatError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isLifeboatError(err), `not a LifeboatError: ${String(err)}`);
    return err;
  }
  assert.fail('it did not fail');
}

test('a server that never answers: the backup fails at the connect timeout, naming the server, with no psql left and no spool', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const repo = await newRepo(dir);
  const { port } = await blackhole(t);
  const t0 = Date.now();
  // The user's connect_timeout wins over ours.
  const err = await rejection(backupPostgresLogical(repo, { conn: `host=127.0.0.1 port=${port} user=postgres dbname=app connect_timeout=2`, spool: dir }));
  const took = Date.now() - t0;
  assert.equal(err.code, 'SOURCE');
  assert.match(err.message, new RegExp(`PostgreSQL at 127\\.0\\.0\\.1:${port} did not answer within 2 s`));
  assert.match(err.hint ?? '', /connect_timeout|PGCONNECT_TIMEOUT/);
  assert.ok(took >= 1500 && took < 15_000, `failed after ${took} ms`);
  assert.deepEqual(pgChildren(), []);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('lifeboat-')), [], 'the spool is removed');
});

test('a server that never answers: an abort ends logical and physical backups at once, with no psql left', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const repo = await newRepo(dir);
  const hole = await blackhole(t);
  for (const backup of [backupPostgresLogical, backupPostgresPhysical]) {
    const ac = new AbortController();
    const seen = hole.held.length;
    const p = rejection(backup(repo, { conn: `host=127.0.0.1 port=${hole.port} user=postgres dbname=app`, signal: ac.signal }));
    await waitFor('psql to reach the server', () => hole.held.length > seen, 10_000, 10);
    const t0 = Date.now();
    ac.abort();
    const err = await p;
    assert.equal(err.code, 'ABORTED', `${backup.name}: ${err.message}`);
    assert.ok(Date.now() - t0 < (CONNECT_TIMEOUT_S * 1000) / 2, `${backup.name} ended ${Date.now() - t0} ms after the abort`);
    assert.deepEqual(pgChildren(), [], backup.name);
  }
  // Aborted before it starts: nothing runs.
  const ac = new AbortController();
  ac.abort();
  const seen = hole.held.length;
  assert.equal((await rejection(backupPostgresLogical(repo, { conn: `host=127.0.0.1 port=${hole.port}`, signal: ac.signal }))).code, 'ABORTED');
  assert.equal(hole.held.length, seen);
});

test('a multi-host URI: the password goes to psql in its environment, never in its arguments (nor into messages); PGCONNECT_TIMEOUT is set', { timeout: 60_000 }, async (t) => {
  assert.deepEqual(splitPassword('postgresql://app:s%40cret@db1:5432,db2:5433/shop?sslmode=require&password=other'), {
    conn: 'postgresql://app@db1:5432,db2:5433/shop?sslmode=require',
    password: 's@cret',
  });
  assert.deepEqual(splitPassword('postgres://db1,db2/shop?password=pw&target_session_attrs=read-write'), {
    conn: 'postgres://db1,db2/shop?target_session_attrs=read-write',
    password: 'pw',
  });
  assert.deepEqual(splitPassword('postgresql://app@db1:5432,db2:5433/shop'), { conn: 'postgresql://app@db1:5432,db2:5433/shop' });
  assert.equal(redactConn('postgresql://app:pw@db1:5432,db2:5433/shop?password=x&sslmode=require'), 'postgresql://app:***@db1:5432,db2:5433/shop?password=***&sslmode=require');

  const hole = await blackhole(t);
  const ac = new AbortController();
  const p = rejection(PsqlSession.open(`postgresql://postgres:Very-Secret-9@127.0.0.1:${hole.port},127.0.0.1:${hole.port}/app`, { signal: ac.signal }));
  await waitFor('psql to reach the server', () => hole.held.length > 0, 10_000, 10);
  const psql = descendants().find((d) => d.comm === 'psql');
  assert.ok(psql, 'psql runs');
  const argv = readFileSync(`/proc/${psql.pid}/cmdline`, 'utf8');
  const env = readFileSync(`/proc/${psql.pid}/environ`, 'utf8').split('\0');
  ac.abort();
  assert.equal((await p).code, 'ABORTED');
  assert.ok(!argv.includes('Very-Secret-9'), `the password is in psql's arguments: ${argv.replace(/\0/g, ' ')}`);
  assert.ok(argv.includes(`127.0.0.1:${hole.port},127.0.0.1:${hole.port}`), argv);
  assert.ok(env.includes('PGPASSWORD=Very-Secret-9'));
  assert.ok(env.includes(`PGCONNECT_TIMEOUT=${CONNECT_TIMEOUT_S}`));
  assert.deepEqual(pgChildren(), []);
});

test('a query that waits for ever in the session (a table locked by another): an abort ends the backup, psql and its server process', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const pg = await PgCluster.create(t, join(dir, 'pg'));
  await pg.sql('CREATE DATABASE shop');
  await pg.script('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100);', 'shop');
  const repo = await newRepo(dir);
  const locker = await PsqlSession.open(pg.conn('shop'));
  t.after(() => locker.close());
  await locker.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
  const lockers = pgChildren();
  const ac = new AbortController();
  const p = rejection(backupPostgresLogical(repo, { conn: pg.conn('shop'), spool: dir, signal: ac.signal }));
  const waiting = async (): Promise<number> =>
    Number(await pg.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lifeboat' AND datname = 'shop' AND wait_event_type = 'Lock'"));
  await waitFor('the backup to wait for the lock', async () => (await waiting()) > 0, 30_000, 20);
  ac.abort();
  const err = await p;
  assert.equal(err.code, 'ABORTED', err.message);
  assert.deepEqual(pgChildren(), lockers);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('lifeboat-pgdump-')), [], 'the spool is removed');
  // Its server process goes with the connection (the locker's stays).
  await waitFor('the backup\'s server process to end', async () => (await waiting()) === 0, 30_000, 20);
  await locker.query('COMMIT');
});

test('pg_dump on a connection that stalls: an abort kills it and removes the spool', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const pg = await PgCluster.create(t, join(dir, 'pg'));
  await pg.sql('CREATE DATABASE shop');
  await pg.script('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100);', 'shop');
  const repo = await newRepo(dir);
  // A proxy that passes the first connection (the backup's session) and holds every later one (pg_dump's) silent.
  const sockets: Socket[] = [];
  let connections = 0;
  const proxy = createServer((client) => {
    sockets.push(client);
    if (++connections > 1) return;
    const up = createConnection(pg.port, '127.0.0.1');
    sockets.push(up);
    client.pipe(up).pipe(client);
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    proxy.close();
  });
  const port = (proxy.address() as { port: number }).port;
  const ac = new AbortController();
  // A long connect_timeout: only the abort can end pg_dump's wait.
  const p = rejection(backupPostgresLogical(repo, { conn: `postgresql://postgres:${pg.password}@127.0.0.1:${port}/shop?connect_timeout=300`, spool: dir, signal: ac.signal }));
  await waitFor('pg_dump to connect', () => connections > 1 && pgChildren().some((c) => c.startsWith('pg_dump ')), 30_000, 10);
  assert.ok(readdirSync(dir).some((n) => n.startsWith('lifeboat-pgdump-')), 'the spool exists while pg_dump runs');
  ac.abort();
  const err = await p;
  assert.equal(err.code, 'ABORTED', err.message);
  assert.deepEqual(pgChildren(), []);
  assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('lifeboat-pgdump-')), []);
  assert.ok(!existsSync(join(dir, 'repo', 'snapshots')) || readdirSync(join(dir, 'repo', 'snapshots')).length === 0, 'no snapshot');
});
