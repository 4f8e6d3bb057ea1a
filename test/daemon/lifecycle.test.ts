/**
 * The real daemon process: files, SQLite and PostgreSQL groups on schedules, retention, status agreeing
 * with the repository; SIGTERM during a backup; SIGHUP with a broken file; a second daemon refused;
 * webhooks announcing a failure, a recovery and an RPO breach once each.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { PgCluster } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/repo.ts';
import { freePort, waitFor } from '../helpers/wait.ts';
import { lifeboat, PASSWORD } from '../cli/run-cli.ts';

const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

interface Daemon {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `lifeboat --json daemon -c FILE`; its JSON log lines are collected; killed after the test. */
function startDaemon(t: TestContext, config: string, env: Record<string, string> = {}): Daemon {
  const child = spawn(process.execPath, ['--import', 'tsx', main, '--json', 'daemon', '-c', config], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        events.push({ event: 'unparsed', line });
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, events, stderr: () => err, exited };
}

function ended(d: Daemon, group: string, status?: string): Array<Record<string, unknown>> {
  return d.events.filter((e) => e['event'] === 'job-ended' && e['group'] === group && (status === undefined || e['status'] === status));
}

async function setup(t: TestContext): Promise<{ dir: string; repo: string; pw: string; data: string }> {
  const dir = await tempDir(t);
  const repo = join(dir, 'repo');
  const pw = join(dir, 'pw');
  writeFileSync(pw, PASSWORD + '\n', { mode: 0o600 });
  const r = await lifeboat(['-r', repo, 'init']);
  assert.equal(r.code, 0, r.stderr);
  return { dir, repo, pw, data: join(dir, 'state') };
}

test('files, SQLite and PostgreSQL groups run on their schedules, keep what retention says, and status agrees with the repository', { timeout: 600_000 }, async (t) => {
  const { dir, repo, pw, data } = await setup(t);
  const files = join(dir, 'files');
  mkdirSync(files);
  writeFileSync(join(files, 'a.txt'), 'alpha\n');
  const dbFile = join(dir, 'app.db');
  const db = new Database(dbFile);
  db.exec('PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1)');
  db.close();
  const pg = await PgCluster.create(t, join(dir, 'pg'));
  await pg.sql("CREATE TABLE orders(id int primary key, what text); INSERT INTO orders VALUES (1, 'boat')");
  const port = await freePort();
  const config = join(dir, 'lifeboat.yaml');
  writeFileSync(
    config,
    `site: { name: primary, data: ${data} }
repositories:
  main: { path: ${repo}, password_file: ${pw} }
groups:
  files:
    members: [ { files: [${files}] } ]
    schedule: "*/2 * * * * *"
    retention: { last: 2 }
    rpo: 1h
  app:
    members: [ { sqlite: ${dbFile} } ]
    schedule: "*/3 * * * * *"
    retention: { last: 2 }
  db:
    members: [ { postgres: { conn: "${pg.conn()}" } } ]
    schedule: "*/4 * * * * *"
    retention: { last: 1 }
daemon: { max_concurrent_jobs: 2 }
api: { listen: 127.0.0.1:${port}, tls: self-signed }
`,
  );
  const d = startDaemon(t, config);
  await waitFor('three good runs of every group', () => ['files', 'app', 'db'].every((g) => ended(d, g, 'ok').length >= 3), 240_000, 200);
  // Schedules off (SIGHUP), then wait for the jobs under way to end: the repository is then still.
  const yaml = (await import('node:fs')).readFileSync(config, 'utf8');
  writeFileSync(config, yaml.replace(/^ {4}schedule: .*\n/gm, ''));
  d.child.kill('SIGHUP');
  await waitFor('the reload', () => d.events.some((e) => e['event'] === 'config-reloaded'), 30_000);
  type Status = { groups: Array<{ name: string; last_good?: string; snapshots?: number; failing: boolean; running: unknown[]; waiting: unknown[]; next_backup?: string }> };
  let status: Status | undefined;
  await waitFor(
    'no job running',
    async () => {
      const st = await lifeboat(['--json', 'status', '-c', config]);
      assert.equal(st.code, 0, st.stderr);
      status = JSON.parse(st.stdout) as Status;
      return status.groups.every((g) => g.running.length === 0 && g.waiting.length === 0);
    },
    120_000,
    500,
  );
  const snaps = await lifeboat(['-r', repo, '--json', 'snapshots']);
  const list = JSON.parse(snaps.stdout) as Array<{ group?: string; source: { kind: string } }>;
  const count = (g: string): number => list.filter((s) => s.group === g).length;
  assert.equal(count('files'), 2, 'retention: last 2');
  assert.equal(count('app'), 2);
  assert.equal(count('db'), 1, 'retention: last 1');
  assert.deepEqual([...new Set(list.filter((s) => s.group === 'db').map((s) => s.source.kind))], ['postgres']);
  for (const g of status!.groups) {
    assert.equal(g.failing, false, `${g.name} failing`);
    assert.ok(g.last_good, `${g.name} has a recovery point`);
    assert.equal(g.next_backup, undefined, 'no schedule any more');
    assert.equal(g.snapshots, count(g.name), `${g.name}: the status's count is the repository's`);
  }
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0, d.stderr());
  // Every job was recorded, none overlapped within a group.
  const check = await lifeboat(['-r', repo, 'check']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const restored = join(dir, 'restored');
  const r = await lifeboat(['-r', repo, 'restore', 'latest', '--path', files, '--target', restored]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(restored, files, 'a.txt')));
});

test('SIGTERM during a backup: the daemon exits within 10 s, the job reads interrupted, check passes, and after a restart the next run succeeds', { timeout: 300_000 }, async (t) => {
  const { dir, repo, pw, data } = await setup(t);
  const files = join(dir, 'files');
  mkdirSync(files);
  for (let i = 0; i < 20; i++) writeFileSync(join(files, `f${i}`), Buffer.alloc(1 << 20, i));
  const marker = join(dir, 'in-hook');
  const config = join(dir, 'lifeboat.yaml');
  const write = (hook: boolean): void =>
    writeFileSync(
      config,
      `site: { name: primary, data: ${data} }
repositories:
  main: { path: ${repo}, password_file: ${pw} }
groups:
  files:
    members: [ { files: [${files}] } ]
    schedule: "* * * * * *"
${hook ? `    hooks: { pre: "touch ${marker}; sleep 60" }\n` : ''}`,
    );
  write(true);
  const d = startDaemon(t, config);
  await waitFor('the backup to be under way (its pre hook running)', () => existsSync(marker), 60_000);
  const t0 = Date.now();
  d.child.kill('SIGTERM');
  const code = await d.exited;
  const took = Date.now() - t0;
  assert.equal(code, 0, d.stderr());
  assert.ok(took < 10_000, `stopped in ${took} ms`);
  const jobs = ended(d, 'files');
  assert.equal(jobs.at(-1)?.['status'], 'interrupted', JSON.stringify(jobs));
  assert.equal((await lifeboat(['-r', repo, 'check'])).code, 0);
  write(false);
  const again = startDaemon(t, config);
  await waitFor('a good run after the restart', () => ended(again, 'files', 'ok').length >= 1, 120_000);
  const jobsOut = await lifeboat(['--json', 'jobs', '-c', config]);
  // No API configured: the CLI says so.
  assert.equal(jobsOut.code, 2, jobsOut.stderr);
  again.child.kill('SIGTERM');
  assert.equal(await again.exited, 0);
  // The history kept the interrupted job.
  const { StateStore } = await import('../../src/daemon/index.ts');
  const state = await StateStore.open(data, Date.now());
  try {
    const statuses = state.jobs({ group: 'files' }).map((j) => j.status);
    assert.ok(statuses.includes('interrupted') && statuses.includes('ok'), statuses.join(','));
  } finally {
    state.close();
  }
});

test('SIGHUP with a broken file keeps the old configuration and logs the error with its line; a good one is taken; a second daemon is refused', { timeout: 300_000 }, async (t) => {
  const { dir, repo, pw, data } = await setup(t);
  const files = join(dir, 'files');
  mkdirSync(files);
  writeFileSync(join(files, 'a'), 'a');
  const config = join(dir, 'lifeboat.yaml');
  const good = `site: { name: primary, data: ${data} }
repositories:
  main: { path: ${repo}, password_file: ${pw} }
groups:
  files:
    members: [ { files: [${files}] } ]
    schedule: "* * * * * *"
`;
  writeFileSync(config, good);
  const d = startDaemon(t, config);
  await waitFor('a first run', () => ended(d, 'files', 'ok').length >= 1, 120_000);
  // A second daemon on the same data folder is refused, naming the holder.
  const second = await lifeboat(['daemon', '-c', config]);
  assert.equal(second.code, 15, second.stderr);
  assert.match(second.stderr, new RegExp(`another daemon \\(pid ${d.child.pid}\\)`));
  writeFileSync(config, good + '  broken:\n    members: [ { files: [relative/path] } ]\n    schedul: "* * * * *"\n');
  d.child.kill('SIGHUP');
  await waitFor('the reload to be refused', () => d.events.some((e) => e['event'] === 'reload-refused'), 30_000);
  const refused = d.events.find((e) => e['event'] === 'reload-refused')!;
  assert.match(String(refused['error']), /lifeboat\.yaml:\d+:\d+: groups\.broken/);
  const before = ended(d, 'files', 'ok').length;
  await waitFor('runs going on with the old configuration', () => ended(d, 'files', 'ok').length >= before + 2, 60_000);
  // A good file with a second group is taken at once.
  writeFileSync(config, good + `  more:\n    members: [ { files: [${files}] } ]\n    schedule: "* * * * * *"\n`);
  d.child.kill('SIGHUP');
  await waitFor('the new group to run', () => ended(d, 'more', 'ok').length >= 1, 60_000);
  assert.ok(d.events.some((e) => e['event'] === 'config-reloaded'));
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0);
});

test('webhooks: one failure notice while a source is gone, one recovery notice when it is back, an RPO breach announced once', { timeout: 300_000 }, async (t) => {
  const { dir, repo, pw, data } = await setup(t);
  const got: Array<{ event: string; group: string; signature?: string }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const n = JSON.parse(body) as { event: string; group: string };
      got.push({ event: n.event, group: n.group, ...(req.headers['x-lifeboat-signature'] ? { signature: String(req.headers['x-lifeboat-signature']) } : {}) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const hookPort = (server.address() as { port: number }).port;
  const dbFile = join(dir, 'app.db');
  const db = new Database(dbFile);
  db.exec('CREATE TABLE t(x)');
  db.close();
  writeFileSync(join(dir, 'hook.key'), 'webhook-secret-0123456789\n', { mode: 0o600 });
  const config = join(dir, 'lifeboat.yaml');
  writeFileSync(
    config,
    `site: { name: primary, data: ${data} }
repositories:
  main: { path: ${repo}, password_file: ${pw} }
groups:
  app:
    members: [ { sqlite: ${dbFile} } ]
    schedule: "* * * * * *"
    rpo: 10s
notify:
  webhooks:
    - { url: "http://127.0.0.1:${hookPort}/hook", secret_file: ${join(dir, 'hook.key')}, timeout: 5s }
`,
  );
  const d = startDaemon(t, config);
  await waitFor('a first good run', () => ended(d, 'app', 'ok').length >= 1, 120_000);
  renameSync(dbFile, dbFile + '.away');
  await waitFor('several failed runs and an RPO breach', () => ended(d, 'app', 'failed').length >= 4 && got.some((g) => g.event === 'rpo_breach'), 120_000);
  const failedRuns = ended(d, 'app', 'failed').length;
  await waitFor('two more failed runs', () => ended(d, 'app', 'failed').length >= failedRuns + 2, 60_000);
  renameSync(dbFile + '.away', dbFile);
  await waitFor('recovery and the RPO met again', () => got.some((g) => g.event === 'job_recovered') && got.some((g) => g.event === 'rpo_recovered'), 120_000);
  const okRuns = ended(d, 'app', 'ok').length;
  await waitFor('two more good runs', () => ended(d, 'app', 'ok').length >= okRuns + 2, 60_000);
  d.child.kill('SIGTERM');
  assert.equal(await d.exited, 0);
  const count = (e: string): number => got.filter((g) => g.event === e).length;
  assert.deepEqual({ job_failed: count('job_failed'), job_recovered: count('job_recovered'), rpo_breach: count('rpo_breach'), rpo_recovered: count('rpo_recovered') }, { job_failed: 1, job_recovered: 1, rpo_breach: 1, rpo_recovered: 1 });
  assert.ok(got.every((g) => g.group === 'app' && /^sha256=[0-9a-f]{64}$/.test(g.signature ?? '')));
});
