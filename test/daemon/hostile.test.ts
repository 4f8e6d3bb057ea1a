/**
 * The site daemon attacked as a hostile user (or an unlucky machine) would: SIGKILL at random moments,
 * signal storms, configuration files swapped for junk, the state store damaged, full or gone, sources that
 * misbehave, abusive API clients, secrets looked for in everything the daemon writes, webhook receivers that
 * hang, clocks that jump. Real processes, real files, real mounts; each test cleans up by pid, unmounts and
 * removes its folders whatever happens.
 *
 * A test marked `todo` shows a bug that is not fixed yet: it asserts what should happen, fails today, and
 * says in its todo text what is wrong (the suite stays green; `node --test` lists it as todo).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { ManualClock } from '../../src/core/index.ts';
import { parseConfig } from '../../src/config/index.ts';
import { Scheduler, StateStore } from '../../src/daemon/index.ts';
import { lifeboat } from '../cli/run-cli.ts';
import { newRepo, PASSWORD } from '../helpers/repo.ts';
import { freePort, waitFor } from '../helpers/wait.ts';
import { cleanEnv, readAnswer, sha256hex, type Answer } from './helpers.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const isRoot = process.getuid?.() === 0;

/** A deterministic PRNG (mulberry32): "random" kill moments that are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------------------------------------
// A site: a temp folder with a repository (cheap keys), a password file, files to back up, a data folder.

interface Site {
  dir: string;
  repo: string;
  pw: string;
  data: string;
  src: string;
  config: string;
  /** TMPDIR of the daemons the test starts (so staged copies they leave behind can be counted). */
  tmp: string;
  /** Run last added first, before the folder is removed (processes by pid, mounts). */
  cleanups: Array<() => Promise<void> | void>;
}

async function makeSite(t: TestContext): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-hostile-'));
  const site: Site = { dir, repo: join(dir, 'repo'), pw: join(dir, 'repo.pass'), data: join(dir, 'data'), src: join(dir, 'src'), config: join(dir, 'lifeboat.yaml'), tmp: join(dir, 'tmp'), cleanups: [] };
  t.after(async () => {
    for (const c of site.cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch {
        /* keep cleaning */
      }
    }
    await rm(dir, { recursive: true, force: true }).catch(() => execFileSync('rm', ['-rf', '--', dir]));
  });
  mkdirSync(join(site.src, 'sub'), { recursive: true });
  mkdirSync(site.tmp);
  writeFileSync(join(site.src, 'a.txt'), 'alpha\n');
  writeFileSync(join(site.src, 'sub', 'b.txt'), 'bravo '.repeat(1000));
  writeFileSync(site.pw, `${PASSWORD}\n`, { mode: 0o600 });
  await newRepo(dir);
  return site;
}

const q = (s: string): string => JSON.stringify(s);

/** The configuration text: the site, the one repository `main`, the groups as given, the API on `port`. */
function configText(site: Site, o: { groups: string; port?: number; tls?: boolean; extra?: string }): string {
  return [
    `site: { name: test, data: ${q(site.data)} }`,
    'repositories:',
    `  main: { path: ${q(site.repo)}, password_file: ${q(site.pw)} }`,
    'groups:',
    o.groups.replace(/\n$/, ''),
    ...(o.port !== undefined ? ['api:', `  listen: 127.0.0.1:${o.port}`, `  tls: ${o.tls ? 'self-signed' : 'false'}`] : []),
    ...(o.extra ? [o.extra.replace(/\n$/, '')] : []),
    '',
  ].join('\n');
}

/** A files group named `name` on the site's source folder. */
function filesGroup(site: Site, name = 'web', more = ''): string {
  return [`  ${name}:`, `    members: [ { files: [${q(site.src)}] } ]`, ...more.split('\n').filter((l) => l.trim()).map((l) => `    ${l.trim()}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// The real daemon process.

interface Daemon {
  child: ChildProcess;
  pid: number;
  events: Array<Record<string, unknown>>;
  stderr: () => string;
  stdout: () => string;
  /** Resolves with the exit status or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive: () => boolean;
  /** The API's base URL, once it listens. */
  url?: string;
}

/** Starts `lifeboat --json daemon -c site.config` from the sources; it is SIGKILLed by pid in the site's cleanup. */
function spawnDaemon(site: Site, env: Record<string, string> = {}, prefix: string[] = [], entry: string[] = ['--import', 'tsx', main]): Daemon {
  // `prefix` (prlimit ...) execs the daemon in its own place: the pid is the daemon's. `entry`: what node
  // runs (the sources through tsx, or the installed command bin/lifeboat.js).
  const argv = [...prefix, process.execPath, ...entry, '--json', 'daemon', '-c', site.config];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: root, env: cleanEnv({ TMPDIR: site.tmp, ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  let out = '';
  let err = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const l of lines) {
      if (!l.trim()) continue;
      try {
        events.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        events.push({ event: 'unparsed', line: l });
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      done = true;
      r({ code, signal });
    }),
  );
  site.cleanups.push(async () => {
    if (done) return;
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      return;
    }
    await exited;
  });
  return { child, pid: child.pid!, events, stderr: () => err, stdout: () => out, exited, alive: () => !done };
}

/** Waits for the daemon's `daemon-started` (and `api-listening` when it has an API); fails with its output if it exits first. */
async function started(d: Daemon, api = true, timeoutMs = 60_000): Promise<Daemon> {
  await waitFor('the daemon to start', () => !d.alive() || d.events.some((e) => e['event'] === (api ? 'api-listening' : 'daemon-started')), timeoutMs, 25);
  if (!d.alive()) throw new Error(`the daemon exited:\n${d.stderr()}\n${d.stdout()}`);
  const l = d.events.find((e) => e['event'] === 'api-listening');
  if (l) d.url = String(l['url']);
  return d;
}

function events(d: Daemon, name: string, pred: (e: Record<string, unknown>) => boolean = () => true): Array<Record<string, unknown>> {
  return d.events.filter((e) => e['event'] === name && pred(e));
}

const jobEnded = (d: Daemon, status?: string, kind?: string): Array<Record<string, unknown>> => events(d, 'job-ended', (e) => (status === undefined || e['status'] === status) && (kind === undefined || e['kind'] === kind));

/** Jobs the daemon started and had not ended when it was looked at (ids). */
function unfinished(d: Daemon): number[] {
  const ended = new Set(events(d, 'job-ended').map((e) => Number(e['job'])));
  return events(d, 'job-started').map((e) => Number(e['job'])).filter((id) => !ended.has(id));
}

function signal(d: Daemon, sig: NodeJS.Signals): void {
  process.kill(d.pid, sig);
}

/** SIGKILL by pid; resolves once it is gone. */
async function kill9(d: Daemon): Promise<void> {
  if (!d.alive()) return;
  signal(d, 'SIGKILL');
  await d.exited;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP to the daemon (plain HTTP on loopback unless said otherwise), with the admin token it writes.


function localToken(site: Site): string {
  return readFileSync(join(site.data, 'local.token'), 'utf8').trim();
}

function http(d: Daemon, method: string, path: string, o: { token?: string; body?: unknown; timeoutMs?: number; headers?: Record<string, string>; localAddress?: string } = {}): Promise<Answer> {
  const body = o.body === undefined ? undefined : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const base = new URL(d.url!);
    // The path exactly as given (a URL object would resolve "..", "//" and the like before sending).
    const req = httpRequest({
      hostname: base.hostname,
      port: base.port,
      path,
      method,
      headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}), ...o.headers },
      timeout: o.timeoutMs ?? 30_000,
      agent: false,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${o.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.on('response', (res) => void readAnswer(res, t0).then(resolve, reject));
    req.end(body);
  });
}

/** Raw bytes to the API's port; resolves with whatever came back before the server closed or `ms` passed. */
function raw(port: number, data: string | Buffer, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => (s.destroy(), resolve(got)), ms);
    s.on('data', (b) => (got += b.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => (clearTimeout(timer), resolve(got)));
    s.on('connect', () => s.write(data));
  });
}

const FINISHED = new Set(['ok', 'partial', 'failed', 'interrupted']);

async function waitJob(d: Daemon, token: string, id: number, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  let job: Record<string, unknown> = {};
  await waitFor(`job ${id} to finish`, async () => {
    const a = await http(d, 'GET', `/v1/jobs/${id}`, { token });
    job = a.json as Record<string, unknown>;
    return a.status === 200 && FINISHED.has(String(job['status']));
  }, timeoutMs, 100);
  return job;
}

/** `lifeboat -r REPO check` (the whole repository, every byte read): its exit status and output. */
async function repoCheck(site: Site): Promise<{ code: number | null; out: string }> {
  const r = await lifeboat(['-r', site.repo, 'check', '--read-data']);
  return { code: r.code, out: r.stdout + r.stderr };
}

/** Jobs as the state store holds them, read with the daemon stopped (or read-only beside it). */
function stateJobs(site: Site): Array<{ id: number; group_name: string; kind: string; status: string; started: number | null; error: string | null }> {
  const db = new Database(join(site.data, 'state.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, group_name, kind, status, started, error FROM jobs ORDER BY id').all() as Array<{ id: number; group_name: string; kind: string; status: string; started: number | null; error: string | null }>;
  } finally {
    db.close();
  }
}

/** A process that must end with the test: killed by pid (with its process group when it leads one). */
function ownProcess(site: Site, child: ChildProcess, group = false): void {
  site.cleanups.push(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      process.kill(group ? -child.pid! : child.pid!, 'SIGKILL');
    } catch {
      return;
    }
    await gone;
  });
}

/** A tmpfs of `size` mounted on `dir` (root only), unmounted in the cleanup even when something still holds it. */
function mountTmpfs(site: Site, dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  // Added first, so it runs after the processes on it were killed (cleanups run last added first).
  site.cleanups.unshift(() => {
    try {
      execFileSync('umount', [dir]);
    } catch {
      execFileSync('umount', ['-l', dir]);
    }
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Watches `ok` for `ms` (a window in which something must not happen): false as soon as it stops holding. */
async function holdsFor(ok: () => boolean | Promise<boolean>, ms: number, everyMs = 50): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!(await ok())) return false;
    await sleep(everyMs);
  }
  return ok();
}


// ---------------------------------------------------------------------------------------------------------
// SIGKILL

void test('SIGKILL at random moments during backups, retention and checks, again and again: check passes, the restart is not locked out, the killed jobs read interrupted, the next run succeeds', { timeout: 240_000 }, async (t) => {
  const site = await makeSite(t);
  for (let i = 0; i < 4; i++) writeFileSync(join(site.src, `f${i}`), randomBytes(2 << 20));
  const port = await freePort();
  // Every backup stores 6 MiB that are new (the pre hook rewrites a file), then forgets all but 2 snapshots.
  const churn = join(site.src, 'churn');
  writeFileSync(
    site.config,
    configText(site, { port, groups: filesGroup(site, 'web', `schedule: "* * * * * *"\nretention: { last: 2 }\nhooks: { pre: "head -c 6000000 /dev/urandom > ${churn}" }\ncheck: { schedule: "*/2 * * * * *", read_data_subset: 100% }`) }),
  );
  const rnd = prng(20261207);
  const killedDuring: string[] = [];
  let previous: Daemon | undefined;
  for (let round = 0; round < 8; round++) {
    const d = await started(spawnDaemon(site));
    const token = localToken(site);
    if (previous) {
      for (const id of unfinished(previous)) {
        const a = await http(d, 'GET', `/v1/jobs/${id}`, { token });
        assert.equal(a.json?.status, 'interrupted', `round ${round}: job ${id}, running when the daemon was killed, reads ${a.text}`);
      }
    }
    // The repository is usable again: a job of this daemon succeeds (no stale lock, nothing half-written in the way).
    await waitFor(`round ${round}: a good job after the restart`, () => jobEnded(d, 'ok').length > 0 || jobEnded(d, 'failed').length > 0, 60_000, 20);
    assert.deepEqual(jobEnded(d, 'failed'), [], `round ${round}: a job failed after the restart`);
    // The kill: a random moment into the next job of the kind this round aims at (backups end with retention).
    const kind = round % 2 === 0 ? 'backup' : 'check';
    const seen = events(d, 'job-started').length;
    await waitFor(`round ${round}: a ${kind} to start`, () => events(d, 'job-started').slice(seen).some((e) => e['kind'] === kind), 30_000, 5);
    await sleep(Math.floor(rnd() * (kind === 'backup' ? 1500 : 800)));
    const kinds = new Map(events(d, 'job-started').map((e) => [Number(e['job']), String(e['kind'])]));
    killedDuring.push(unfinished(d).map((id) => kinds.get(id)).join('+') || 'idle');
    await kill9(d);
    const c = await repoCheck(site);
    assert.equal(c.code, 0, `round ${round} (killed during ${killedDuring.at(-1)}): lifeboat check\n${c.out}`);
    previous = d;
  }
  // The last daemon: no more churn, so the newest snapshot can be compared with the source.
  writeFileSync(site.config, readFileSync(site.config, 'utf8').replace(/ +hooks: .*\n/, ''));
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  for (const id of unfinished(previous!)) assert.equal((await http(d, 'GET', `/v1/jobs/${id}`, { token })).json?.status, 'interrupted');
  await waitFor('a good backup and a good check', () => jobEnded(d, 'ok', 'backup').length > 0 && jobEnded(d, 'ok', 'check').length > 0, 90_000, 50);
  assert.deepEqual(jobEnded(d, 'failed'), []);
  signal(d, 'SIGTERM');
  assert.deepEqual(await d.exited, { code: 0, signal: null }, d.stderr());
  const left = stateJobs(site).filter((j) => j.status === 'running' || j.status === 'queued');
  assert.deepEqual(left, [], 'no job reads running or queued once every daemon is gone');
  assert.ok(stateJobs(site).filter((j) => j.status === 'interrupted').length >= 8, 'every kill left an interrupted job');
  const c = await repoCheck(site);
  assert.equal(c.code, 0, c.out);
  const target = join(site.dir, 'restored');
  const r = await lifeboat(['-r', site.repo, 'restore', 'latest', '--target', target]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of readdirSync(site.src)) {
    if (statSync(join(site.src, f)).isFile()) assert.ok(readFileSync(join(target, site.src, f)).equals(readFileSync(join(site.src, f))), `${f} restored as it is`);
  }
  t.diagnostic(`killed during: ${killedDuring.join(', ')}`);
});

void test('a daemon killed during an SQLite backup, again and again: the next backup removes the staged copies the killed ones left, before it stages its own', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const dbFile = join(site.dir, 'app.db');
  const db = new Database(dbFile);
  db.exec('CREATE TABLE t(x BLOB)');
  const ins = db.prepare('INSERT INTO t VALUES (?)');
  for (let i = 0; i < 160; i++) ins.run(randomBytes(256 << 10));
  db.close();
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: `  app:\n    members: [ { sqlite: ${q(dbFile)} } ]` }));
  const staged = (): string[] => readdirSync(site.tmp).filter((n) => n.startsWith('lifeboat-sqlite-'));
  const bytes = (n: string): number => readdirSync(join(site.tmp, n)).map((f) => statSync(join(site.tmp, n, f)).size).reduce((x, y) => x + y, 0);
  for (let round = 0; round < 3; round++) {
    const d = await started(spawnDaemon(site));
    const a = await http(d, 'POST', '/v1/groups/app/backup', { token: localToken(site) });
    assert.equal(a.status, 202, a.text);
    // Killed once its copy is made, while it is being stored; the copies of the rounds before are gone.
    const mine = (n: string): boolean => n.startsWith(`lifeboat-sqlite-${d.pid}.`);
    await waitFor('the staged copy', () => staged().filter((n) => mine(n) && bytes(n) >= 40e6).length > 0, 30_000, 5);
    assert.deepEqual(staged().filter((n) => !mine(n)), [], `round ${round}: the killed daemons' copies are still there`);
    await kill9(d);
  }
  const d = await started(spawnDaemon(site));
  const a = await http(d, 'POST', '/v1/groups/app/backup', { token: localToken(site) });
  assert.equal((await waitJob(d, localToken(site), a.json.job.id)).status, 'ok');
  signal(d, 'SIGTERM');
  await d.exited;
  assert.deepEqual(staged(), [], `staged copies left behind: ${staged().map((n) => `${(bytes(n) / 1e6).toFixed(0)} MB`).join(', ')}`);
});

// ---------------------------------------------------------------------------------------------------------
// The state store

void test('site.data on a full file system: the daemon keeps running its jobs (and says it cannot record them), and records again once there is room', { skip: !isRoot && 'mounting a tmpfs needs root', timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  mountTmpfs(site, site.data, '2m');
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', 'schedule: "* * * * * *"') }));
  const d = await started(spawnDaemon(site));
  await waitFor('a first good backup', () => jobEnded(d, 'ok').length > 0, 60_000);
  // Fill it: dd stops at ENOSPC.
  const filler = join(site.data, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { stdio: 'ignore' });
  } catch {
    /* no space left: what was wanted */
  }
  const endedBefore = jobEnded(d).length;
  // Several scheduled times pass on a full disk.
  assert.ok(await holdsFor(d.alive, 4000), `the daemon died on a full disk:\n${d.stderr().slice(-1500)}`);
  assert.ok((await http(d, 'GET', '/v1/health', { timeoutMs: 5000 })).status === 200);
  unlinkSync(filler);
  await waitFor('jobs recorded again once there is room', () => jobEnded(d, 'ok').length > endedBefore + 1, 30_000);
  signal(d, 'SIGTERM');
  assert.equal((await d.exited).code, 0);
});

void test('the data folder deleted under a running daemon: it stops at once (exit 15, saying why), so a second daemon on a new folder there never runs beside it', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', 'schedule: "* * * * * *"') }));
  const first = await started(spawnDaemon(site));
  await waitFor('a first good backup', () => jobEnded(first, 'ok').length > 0, 60_000);
  const firstExit = first.exited.then((e) => ({ ...e, at: Date.now() }));
  rmSync(site.data, { recursive: true, force: true });
  writeFileSync(site.config, configText(site, { port: await freePort(), groups: filesGroup(site, 'web', 'schedule: "* * * * * *"') }));
  const second = spawnDaemon(site);
  const end = await firstExit;
  assert.equal(end.code, 15, first.stdout().slice(-1500));
  assert.equal(events(first, 'data-folder-lost').length, 1);
  assert.match(first.stdout() + first.stderr(), /was deleted, moved or replaced/);
  // The second starts on its new folder, but only once the first is gone.
  await waitFor('the second daemon to start', () => second.events.some((e) => e['event'] === 'daemon-started'), 60_000, 25);
  const startedAt = Date.parse(String(second.events.find((e) => e['event'] === 'daemon-started')!['time']));
  t.diagnostic(`the first exited ${startedAt - end.at} ms before the second started`);
  assert.ok(startedAt >= end.at - 50, 'two daemons ran on one data folder at once');
  signal(second, 'SIGTERM');
  assert.equal((await second.exited).code, 0);
});

void test('state.db damaged (junk, truncated, a folder, a symlink loop, a foreign schema): the daemon refuses to start with the file named and how to get going, and starts once it is moved aside', { timeout: 180_000 }, async (t) => {
  const site = await makeSite(t);
  writeFileSync(site.config, configText(site, { groups: filesGroup(site) }));
  const state = join(site.data, 'state.db');
  // A real history to damage.
  mkdirSync(site.data, { recursive: true, mode: 0o700 });
  const store = await StateStore.open(site.data, Date.now());
  for (let i = 0; i < 3000; i++) store.audit({ time: Date.now(), actor: 'x', role: 'admin', method: 'POST', path: `/v1/groups/web/backup/${'x'.repeat(200)}`, status: 202, outcome: 'ok', remote: '127.0.0.1' });
  store.close();
  const good = readFileSync(state);
  assert.ok(good.length > 500_000);
  const damages: Record<string, () => void> = {
    junk: () => writeFileSync(state, randomBytes(64 << 10)),
    truncated: () => writeFileSync(state, good.subarray(0, Math.floor(good.length / 2) + 123)),
    folder: () => mkdirSync(state),
    'symlink loop': () => symlinkSync(state, state),
    'foreign schema': () => {
      const db = new Database(state);
      db.exec('CREATE TABLE jobs (id INTEGER PRIMARY KEY, what TEXT)');
      db.close();
    },
  };
  for (const [name, damage] of Object.entries(damages)) {
    for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(join(site.data, f), { recursive: true, force: true });
    damage();
    const d = spawnDaemon(site);
    const { code } = await d.exited;
    assert.notEqual(code, 0, `${name}: started anyway`);
    const said = d.stdout() + d.stderr();
    assert.match(said, /state\.db/, `${name}: the file is named`);
    assert.doesNotMatch(said, /^\s+at /m, `${name}: a stack trace instead of a message:\n${said}`);
    t.diagnostic(`${name}: exit ${code}: ${said.trim().split('\n').join(' | ')}`);
  }
  // Moved aside, as the hint says: the daemon starts (no lock was left behind by the refusals).
  rmSync(state, { force: true });
  const d = spawnDaemon(site);
  await started(d, false);
  signal(d, 'SIGTERM');
  assert.equal((await d.exited).code, 0);
});

// ---------------------------------------------------------------------------------------------------------
// Signals and configuration files

void test('SIGHUP while the daemon starts (systemctl reload right after start): it must not die', { timeout: 60_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', 'schedule: "* * * * * *"') }));
  // The installed command, as systemd starts it: its entry script keeps a SIGHUP from the first moment.
  const d = spawnDaemon(site, {}, [], [join(root, 'bin', 'lifeboat.js')]);
  // As soon as the program catches SIGHUP (bit 1 of SigCgt): before that, Node itself is still starting and
  // the default action ends any process (systemd's Type=simple has the same window).
  const catches = (): boolean => {
    try {
      const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${d.pid}/status`, 'utf8'));
      return m !== null && (BigInt(`0x${m[1]}`) & 1n) === 1n;
    } catch {
      return false;
    }
  };
  await waitFor('the program to catch SIGHUP', () => !d.alive() || catches(), 30_000, 1);
  signal(d, 'SIGHUP');
  await waitFor('the daemon to listen or die', () => !d.alive() || d.events.some((e) => e['event'] === 'api-listening'), 60_000, 25);
  // (The message is built only on failure: awaiting the exit of a live daemon would wait forever.)
  if (!d.alive()) assert.fail(`the daemon died: ${JSON.stringify(await d.exited)}`);
  await waitFor('the kept SIGHUP applied once started', () => events(d, 'config-reloaded').length > 0, 30_000, 25);
  signal(d, 'SIGTERM');
  assert.equal((await d.exited).code, 0);
});

void test('SIGTERM again while the daemon stops (an impatient admin, a supervisor that repeats it): the stop must stay clean (job recorded, exit 0)', { timeout: 60_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  const pre = join(site.dir, 'pre-ran');
  const post = join(site.dir, 'post-ran');
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', `hooks: { pre: "touch ${pre}; sleep 30", post: "touch ${post}" }`) }));
  const d = await started(spawnDaemon(site));
  const a = await http(d, 'POST', '/v1/groups/web/backup', { token: localToken(site) });
  assert.equal(a.status, 202);
  await waitFor('the pre hook', () => existsSync(pre), 30_000, 10);
  signal(d, 'SIGTERM');
  // The second once the first is being handled (two sent back to back may reach the process as one).
  await waitFor('the stop to begin', () => events(d, 'stopping').length > 0, 10_000, 1);
  signal(d, 'SIGTERM');
  const t0 = Date.now();
  const end = await d.exited;
  t.diagnostic(`exit ${JSON.stringify(end)} after ${Date.now() - t0} ms`);
  assert.deepEqual(end, { code: 0, signal: null });
  assert.equal(events(d, 'stopped').length, 1, 'the stop finished');
  assert.deepEqual(stateJobs(site).map((j) => j.status), ['interrupted']);
});

void test('configuration swapped for junk under SIGHUP (text, binary, a symlink loop, a folder, gone, an alias bomb, a schedule that never runs, another data folder): each refused with the old one kept; a storm of SIGHUPs; SIGHUP then SIGTERM at once', { timeout: 180_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  const good = configText(site, { port, groups: filesGroup(site, 'web', 'schedule: "* * * * * *"') });
  writeFileSync(site.config, good);
  const d = await started(spawnDaemon(site));
  await waitFor('a first good backup', () => jobEnded(d, 'ok').length > 0, 60_000);
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n');
  const swaps: Record<string, () => void> = {
    'junk text': () => writeFileSync(site.config, 'groups: [ this is : not : yaml\n\t- {'),
    binary: () => writeFileSync(site.config, randomBytes(4096)),
    'NUL bytes': () => writeFileSync(site.config, Buffer.alloc(1000)),
    'symlink loop': () => (rmSync(site.config), symlinkSync(site.config, site.config)),
    folder: () => (rmSync(site.config), mkdirSync(site.config)),
    gone: () => rmSync(site.config, { recursive: true, force: true }),
    'alias bomb': () => writeFileSync(site.config, bomb),
    'never runs': () => writeFileSync(site.config, good.replace('"* * * * * *"', '"0 0 30 2 *"')),
    'another data folder': () => writeFileSync(site.config, good.replace(q(site.data), q(join(site.dir, 'elsewhere')))),
    'unknown repository': () => writeFileSync(site.config, good.replace('schedule:', 'repository: nope\n    schedule:')),
    'empty file': () => writeFileSync(site.config, ''),
  };
  for (const [name, swap] of Object.entries(swaps)) {
    rmSync(site.config, { recursive: true, force: true });
    writeFileSync(site.config, good);
    swap();
    const refused = events(d, 'reload-refused').length;
    const okBefore = jobEnded(d, 'ok').length;
    signal(d, 'SIGHUP');
    await waitFor(`${name}: the reload to be refused`, () => !d.alive() || events(d, 'reload-refused').length > refused, 30_000, 20);
    assert.ok(d.alive(), `${name}: the daemon died:\n${d.stderr().slice(-2000)}`);
    t.diagnostic(`${name}: ${String(events(d, 'reload-refused').at(-1)?.['error']).slice(0, 160)}`);
    await waitFor(`${name}: backups going on with the old configuration`, () => jobEnded(d, 'ok').length >= okBefore + 2, 30_000, 20);
  }
  assert.ok(!existsSync(join(site.dir, 'elsewhere')), 'the other data folder was not made');
  rmSync(site.config, { recursive: true, force: true });
  writeFileSync(site.config, good);
  // A storm: 300 SIGHUPs as fast as they can be sent, during jobs.
  const okBefore = jobEnded(d, 'ok').length;
  for (let i = 0; i < 300; i++) signal(d, 'SIGHUP');
  await waitFor('a reload after the storm', () => events(d, 'config-reloaded').length > 0, 30_000);
  await waitFor('backups going on after the storm', () => jobEnded(d, 'ok').length >= okBefore + 3, 30_000);
  assert.deepEqual(jobEnded(d, 'failed'), []);
  const health = await http(d, 'GET', '/v1/health', { timeoutMs: 5000 });
  assert.equal(health.status, 200);
  // SIGHUP and SIGTERM at once.
  const t0 = Date.now();
  signal(d, 'SIGHUP');
  signal(d, 'SIGTERM');
  const end = await d.exited;
  assert.deepEqual(end, { code: 0, signal: null }, d.stderr());
  assert.ok(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
  assert.ok(events(d, 'stopped').length === 1);
  assert.deepEqual(stateJobs(site).filter((j) => j.status === 'running' || j.status === 'queued'), []);
});

/** Starts a daemon with an API on the site, lets it back up once, swaps the configuration with `swap` and sends SIGHUP: the reload must be refused promptly, the API answering all the while. */
async function reloadMustStayResponsive(t: TestContext, swap: (site: Site) => void): Promise<void> {
  const site = await makeSite(t);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', 'schedule: "* * * * * *"') }));
  const d = await started(spawnDaemon(site));
  await waitFor('a first good backup', () => jobEnded(d, 'ok').length > 0, 60_000);
  rmSync(site.config);
  swap(site);
  signal(d, 'SIGHUP');
  await sleep(300);
  const t0 = Date.now();
  const health = await http(d, 'GET', '/v1/health', { timeoutMs: 3000 }).catch((e: Error) => e);
  assert.ok(!(health instanceof Error), `the API did not answer during the reload (${Date.now() - t0} ms): ${String(health)}`);
  await waitFor('the reload to be refused', () => events(d, 'reload-refused').length > 0, 5000, 20);
}

void test('SIGHUP with the configuration replaced by a FIFO: the reload must not block the daemon', { timeout: 60_000 }, async (t) => {
  await reloadMustStayResponsive(t, (site) => execFileSync('mkfifo', [site.config]));
});

void test('SIGHUP with the configuration a symlink to /dev/zero: the reload must be refused, not read forever', { timeout: 60_000 }, async (t) => {
  await reloadMustStayResponsive(t, (site) => symlinkSync('/dev/zero', site.config));
});

void test('SIGHUP with a 1.7 MB configuration (40,000 groups): the reload must not freeze the daemon', { timeout: 120_000 }, async (t) => {
  await reloadMustStayResponsive(t, (site) => {
    const lines = ['groups:'];
    for (let i = 0; i < 40_000; i++) lines.push(`  g${i}: { members: [ { files: [/x] } ] }`);
    writeFileSync(site.config, lines.join('\n') + '\n');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Sources that misbehave

void test('an SQLite member whose database a writer holds locked: the daemon must stay responsive and stop within 10 s', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const dbFile = join(site.dir, 'app.db');
  const db = new Database(dbFile);
  db.exec('CREATE TABLE t(x); INSERT INTO t VALUES (1)');
  db.close();
  // A writer that holds an exclusive lock for 25 s (rollback journal: readers are locked out too).
  const writer = spawn(process.execPath, ['-e', `const D = require('better-sqlite3'); const db = new D(${q(dbFile)}); db.exec('BEGIN EXCLUSIVE; INSERT INTO t VALUES (2)'); console.log('locked'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, 25000);`], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  ownProcess(site, writer);
  let said = '';
  writer.stdout!.on('data', (b: Buffer) => (said += b.toString()));
  await waitFor('the writer to hold the lock', () => said.includes('locked'), 30_000, 10);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: `  app:\n    members: [ { sqlite: ${q(dbFile)} } ]\n${filesGroup(site, 'web', 'schedule: "* * * * * *"')}` }));
  const d = await started(spawnDaemon(site));
  const a = await http(d, 'POST', '/v1/groups/app/backup', { token: localToken(site) });
  assert.equal(a.status, 202, a.text);
  await waitFor('the backup to start', () => events(d, 'job-started', (e) => e['group'] === 'app').length > 0, 30_000, 10);
  // The other group's first backup pays the start-up costs (worker threads, modules): counted from its end.
  await waitFor('a first backup of the other group', () => jobEnded(d, 'ok').some((e) => e['group'] === 'web'), 30_000, 10);
  assert.ok(events(d, 'job-ended', (e) => e['group'] === 'app').length === 0, 'the locked backup is still waiting');
  const health = await http(d, 'GET', '/v1/health', { timeoutMs: 3000 }).catch((e: Error) => e);
  const webBefore = jobEnded(d, 'ok').filter((e) => e['group'] === 'web').length;
  await sleep(3000);
  const webRuns = jobEnded(d, 'ok').filter((e) => e['group'] === 'web').length - webBefore;
  const t0 = Date.now();
  signal(d, 'SIGTERM');
  const end = await d.exited;
  const took = Date.now() - t0;
  t.diagnostic(`health: ${health instanceof Error ? health.message : `${health.status} in ${Math.round(health.ms)} ms`}; web backups in 3 s: ${webRuns}; SIGTERM to exit: ${took} ms, ${JSON.stringify(end)}`);
  assert.ok(!(health instanceof Error), `the API froze: ${String(health)}`);
  assert.ok(webRuns >= 2, `the other group's every-second backups stopped (${webRuns} in 3 s)`);
  assert.ok(took < 10_000, `SIGTERM took ${took} ms`);
  assert.equal(end.code, 0);
});

// ---------------------------------------------------------------------------------------------------------
// Time (the scheduler on a manual clock: the machine's clock cannot be moved here)

const T0 = Date.UTC(2026, 11, 7, 10, 0, 10);

async function schedulerOn(t: TestContext, clock: ManualClock, entries: ConstructorParameters<typeof Scheduler>[0], random = (): number => 0.9): Promise<{ sch: Scheduler; seen: Array<{ due: number; at: number; trigger: string }> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-hostile-state-'));
  const state = await StateStore.open(dir, clock.now());
  const seen: Array<{ due: number; at: number; trigger: string }> = [];
  const sch = new Scheduler(entries, { clock, state, random, submit: (_g, _k, trigger, due) => seen.push({ due, at: clock.now(), trigger }) });
  t.after(async () => {
    await sch.stop();
    state.close();
    await rm(dir, { recursive: true, force: true });
  });
  await sch.start(new AbortController().signal);
  return { sch, seen };
}

void test('a reload (SIGHUP) between a due time and its jittered start must not skip the run; reloads every 20 s must not stop backups', {}, async (t) => {
  const clock = new ManualClock(T0);
  const entries = [{ group: 'web', kind: 'backup' as const, schedule: { cron: '0 * * * * *' }, jitterMs: 30_000 }];
  const { sch, seen } = await schedulerOn(t, clock, entries);
  // Due 10:01:00, starts 10:01:27 (jitter 27 s); reloaded at 10:01:05.
  await clock.advance(55_000);
  sch.replace(entries);
  await clock.advance(55_000);
  assert.deepEqual(seen.map((s) => new Date(s.due).toISOString()), ['2026-12-07T10:01:00.000Z'], 'the 10:01 run');
  // Ten minutes with a reload every 20 s.
  for (let i = 0; i < 30; i++) {
    await clock.advance(20_000);
    sch.replace(entries);
  }
  assert.ok(seen.length >= 10, `${seen.length} runs in 11 minutes of an every-minute schedule`);
});

void test('clock jumps (ManualClock): a jump forward over many due times runs once, lag measured; a jump backward runs nothing early and nothing twice at once', async (t) => {
  const clock = new ManualClock(T0);
  const { sch, seen } = await schedulerOn(t, clock, [{ group: 'web', kind: 'backup', schedule: { cron: '0 0 * * * *' }, jitterMs: 0 }]);
  await clock.advance(3600_000);
  assert.equal(seen.length, 1, 'the 11:00 run');
  // Suspended for a day: the clock jumps; the timer fires late once.
  clock.set(clock.now() + 24 * 3600_000 + 120_000);
  await clock.advance(0);
  assert.equal(seen.length, 2, 'one run for the 24 missed hours, not 24');
  assert.ok(sch.lastLagMs >= 23 * 3600_000, `lag ${sch.lastLagMs}`);
  await clock.advance(3600_000);
  assert.equal(seen.length, 3, 'back on the hour');
  // NTP steps the clock back two hours: nothing runs until the next due hour comes round, and then once.
  clock.set(clock.now() - 2 * 3600_000);
  await clock.advance(30 * 60_000);
  assert.equal(seen.length, 3, 'nothing early');
  await clock.advance(2 * 3600_000);
  const dues = seen.map((s) => s.due);
  assert.equal(new Set(dues).size, dues.length, 'never the same due time twice in a row without wall time passing it again');
  // A schedule that matches no date is refused where it is read, at start and at reload alike.
  assert.throws(() => parseConfig(`site: { name: a, data: /tmp/x }\nrepositories: { main: { path: /tmp/r, password: "p" } }\ngroups:\n  g:\n    members: [ { files: [/x] } ]\n    schedule: "0 0 30 2 *"\n`, 'lifeboat.yaml'), /matches no date/);
});

void test('a recovery point stamped in the future (the clock was wrong, then corrected): newer backups must count, and a breach must still be announced', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const future = Date.now() + 365 * 86400_000;
  mkdirSync(site.data, { recursive: true, mode: 0o700 });
  const store = await StateStore.open(site.data, Date.now());
  const j = store.addJob({ group: 'web', kind: 'backup', trigger: 'schedule', queued: future });
  store.startJob(j.id, future);
  store.endJob(j.id, { at: future + 1000, status: 'ok' });
  store.close();
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', 'schedule: "* * * * * *"\nrpo: 3s') }));
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  await waitFor('two good backups with the clock right', () => jobEnded(d, 'ok').length >= 2, 60_000);
  const g = (await http(d, 'GET', '/v1/groups/web', { token })).json as { last_good: string; age_seconds: number };
  t.diagnostic(`after good backups now: last_good ${g.last_good}, age ${g.age_seconds} s`);
  assert.ok(Date.parse(g.last_good) <= Date.now(), `last_good ${g.last_good} is in the future`);
  // The source goes away: backups fail, the recovery point ages, the RPO (3 s) is breached.
  execFileSync('mv', [site.src, `${site.src}.away`]);
  await waitFor('an rpo_breach notice', () => events(d, 'notice', (e) => e['notice'] === 'rpo_breach').length > 0, 20_000);
});

// ---------------------------------------------------------------------------------------------------------
// The API

void test('API abuse: 100 parallel runs of one group coalesce; traversal, NULs, unicode and junk in names and ids; malformed HTTP; huge headers; junk restore bodies: never a 500, never a job by mistake', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', 'hooks: { pre: "sleep 3" }') }) + `  restore_paths: [${q(join(site.dir, 'restore'))}]\n`);
  mkdirSync(join(site.dir, 'restore'));
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  // 100 at once: one runs, one waits, the other 98 are that waiting one.
  const answers = await Promise.all(Array.from({ length: 100 }, () => http(d, 'POST', '/v1/groups/web/backup', { token })));
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [202]);
  const ids = [...new Set(answers.map((a) => a.json.job.id as number))];
  assert.equal(ids.length, 2, `jobs made: ${ids.join(', ')}`);
  assert.equal(answers.filter((a) => a.json.queued).length, 2);
  for (const id of ids) assert.equal((await waitJob(d, token, id)).status, 'ok');
  const jobsAfterRuns = (await http(d, 'GET', '/v1/jobs?limit=1000', { token })).json.jobs.length;
  assert.equal(jobsAfterRuns, 2);

  const names = ['..%2f..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', '..', '.', 'web%00', 'web%2f..%2fweb', '%E2%80%AEbew', 'w%C3%A9b', '%C0%AE%C0%AE', '%ZZ', 'web%0d%0aX-Injected:%201', encodeURIComponent('web\u0000evil'), 'WEB', 'web%20', 'a'.repeat(5000), '%F0%9F%92%A9'];
  const paths = names.flatMap((n) => [`/v1/groups/${n}`, `/v1/groups/${n}/snapshots`, `/v1/groups/${n}/backup`, `/v1/groups/${n}/check`, `/v1/jobs/${n}`]);
  paths.push('/v1/jobs/-1', '/v1/jobs/0', '/v1/jobs/99999999999999999999', '/v1/jobs/1e3', '/v1/jobs/0x10', '/v1/jobs?limit=-1', '/v1/jobs?limit=1.5', '/v1/jobs?before=abc', "/v1/jobs?group='%20OR%201=1--", '/v1/jobs?status=%00', '/v1/audit?limit=99999999999', '//v1//groups//web', '/v1/groups/web/../../metrics', '/v1/../v1/jobs/1', '/v1/groups/web/%2e%2e/%2e%2e/metrics');
  const odd: string[] = [];
  for (const p of paths) {
    for (const method of ['GET', 'POST']) {
      const a = await http(d, method, p, { token }).catch((e: Error) => ({ status: -1, text: e.message, json: undefined, ms: 0 }));
      if (a.status >= 500 || a.status < 0) odd.push(`${method} ${p.slice(0, 80)}: ${a.status} ${a.text.slice(0, 120)}`);
      if (a.status === 202) odd.push(`${method} ${p.slice(0, 80)}: ${a.status} ${a.text.slice(0, 200)}`);
    }
  }
  assert.deepEqual(odd, [], 'answers of 500 or none');
  assert.equal((await http(d, 'GET', '/v1/jobs?limit=1000', { token })).json.jobs.length, jobsAfterRuns, 'no job was made by a name that is not a group');

  // Malformed HTTP, straight onto the socket.
  const junk: Record<string, string> = {
    garbage: 'GARBAGE\r\n\r\n',
    'HTTP/9.9': 'GET /v1/health HTTP/9.9\r\n\r\n',
    'no colon': 'GET /v1/health HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n',
    'CL and TE': 'POST /v1/groups/web/backup HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/audit HTTP/1.1\r\nHost: x\r\n\r\n',
    'two CL': 'POST /v1/restore HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}',
    'NUL in path': 'GET /v1/health\u0000/x HTTP/1.1\r\nHost: x\r\n\r\n',
    'bare LF': 'GET /v1/health HTTP/1.1\nHost: x\n\n',
    'huge header': `GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(100_000)}\r\n\r\n`,
    'many headers': `GET /v1/health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 5000 }, (_, i) => `X-${i}: y`).join('\r\n')}\r\n\r\n`,
    'bad chunk': 'POST /v1/restore HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n0\r\n\r\n',
    'absolute URI': 'GET http://evil.example/v1/health HTTP/1.1\r\nHost: x\r\n\r\n',
    'bearer junk': `GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'\u00ff'.repeat(50)}\r\n\r\n`,
  };
  const said: string[] = [];
  for (const [name, req] of Object.entries(junk)) {
    const got = await raw(port, Buffer.from(req, 'latin1'), 5000);
    const status = /^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 'none';
    said.push(`${name}: ${status}`);
    assert.ok(status === 'none' || /^[24]/.test(status), `${name}: ${got.slice(0, 300)}`);
    if (name === 'CL and TE') assert.doesNotMatch(got, /"audit"/, 'a smuggled request was answered');
  }
  t.diagnostic(said.join('; '));
  // Junk restore bodies (admin token): refused, never a 500, nothing written outside.
  const bodies: unknown[] = ['{', '[]', 'null', '"x"', '1e999', { group: { $ne: 1 } }, { group: 'web' }, { group: 'web', snapshot: 'latest', target: 'relative/path' }, { group: 'web', snapshot: 'latest', target: '/etc' }, { group: 'web', snapshot: 'latest', target: join(site.dir, 'restore', '..', 'escape') }, { group: 'web', snapshot: 'latest', target: join(site.dir, 'restore', 'x'), include: 'not a list' }, { group: 'web', snapshot: 'latest', target: join(site.dir, 'restore', 'x'), include: [null] }, { group: 'web', snapshot: '../../../', target: join(site.dir, 'restore', 'y') }, { group: 'web', snapshot: 'latest', target: join(site.dir, 'restore', 'z'), include: Array.from({ length: 1001 }, () => '/a') }, { ['__proto__']: { group: 'web' } }];
  for (const b of bodies) {
    const a = await http(d, 'POST', '/v1/restore', { token, body: typeof b === 'string' ? b : JSON.stringify(b) });
    assert.ok(a.status >= 400 && a.status < 500, `${JSON.stringify(b).slice(0, 100)}: ${a.status} ${a.text.slice(0, 200)}`);
  }
  assert.ok(!existsSync(join(site.dir, 'escape')));
  assert.deepEqual(events(d, 'api-internal-error'), []);
  assert.equal((await http(d, 'GET', '/v1/health')).status, 200);
  signal(d, 'SIGTERM');
  assert.equal((await d.exited).code, 0);
});

/** `n` TCP connections to the port that send nothing and stay open (closed in the site's cleanup). */
async function idleConnections(site: Site, port: number, n: number): Promise<Socket[]> {
  const socks: Socket[] = [];
  site.cleanups.push(() => {
    for (const s of socks) s.destroy();
  });
  await Promise.all(
    Array.from({ length: n }, () => new Promise<void>((r) => {
      const s = netConnect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.once('connect', () => r());
      s.once('close', () => r());
      socks.push(s);
    })),
  );
  return socks;
}

void test('connections that never send a byte are never closed: enough of them (unauthenticated) exhaust the daemon\'s file descriptors and its backups fail', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', 'schedule: "* * * * * *"') }));
  const d = await started(spawnDaemon(site, {}, ['prlimit', '--nofile=1024:1024']));
  await waitFor('a first good backup', () => jobEnded(d, 'ok').length > 0, 60_000);
  // More than the daemon has descriptors for, from one address: it keeps 256 of them (and closes silent ones).
  const socks = await idleConnections(site, port, 1100);
  const held = (): number => socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
  t.diagnostic(`connections held open: ${held()}`);
  const seen = jobEnded(d).length;
  await waitFor('three more backups to end', () => jobEnded(d).length >= seen + 3, 30_000);
  const after = jobEnded(d).slice(seen);
  t.diagnostic(`backups while flooded: ${after.map((e) => `${String(e['status'])}${e['error'] ? ` (${String(e['error']).slice(0, 80)})` : ''}`).join('; ')}; still open after: ${held()}`);
  assert.deepEqual(after.map((e) => e['status']), ['ok', 'ok', 'ok']);
});

void test('slow clients (slowloris headers, a body one byte a second) are cut off; 2,000 requests at once are all answered; the API and the schedule go on meanwhile', { timeout: 150_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web', 'schedule: "* * * * * *"') }));
  const d = await started(spawnDaemon(site));
  await waitFor('a first good backup', () => jobEnded(d, 'ok').length > 0, 60_000);
  const closedAfter: number[] = [];
  const t0 = Date.now();
  const slow = (kind: 'headers' | 'body'): Promise<void> => new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    let i = 0;
    let iv: NodeJS.Timeout | undefined;
    site.cleanups.push(() => void s.destroy());
    s.on('error', () => undefined);
    s.on('connect', () => {
      s.write(kind === 'body' ? 'POST /v1/restore HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n{' : 'GET /v1/status HTTP/1.1\r\nHost: x\r\n');
      iv = setInterval(() => s.write(kind === 'body' ? ' ' : `X-${i++}: y\r\n`), 1000);
    });
    s.on('close', () => {
      clearInterval(iv);
      closedAfter.push(Date.now() - t0);
      resolve();
    });
  });
  const slowOnes = [...Array.from({ length: 20 }, () => slow('headers')), ...Array.from({ length: 20 }, () => slow('body'))];
  // Meanwhile: the API answers at once, 2,000 requests at once are all answered, backups go on.
  await sleep(1000);
  const h = await http(d, 'GET', '/v1/health', { timeoutMs: 5000 });
  assert.equal(h.status, 200);
  // From 10 addresses: one address may hold 256 connections at once (src/daemon/server.ts).
  const many = await Promise.all(Array.from({ length: 2000 }, (_, i) => http(d, 'GET', '/v1/health', { timeoutMs: 60_000, localAddress: `127.0.0.${2 + (i % 10)}` }).then((a) => a.status, (e: Error) => e.message)));
  const bad = many.filter((s) => s !== 200);
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of 2000 not answered 200`);
  const okBefore = jobEnded(d, 'ok').length;
  await waitFor('backups going on', () => jobEnded(d, 'ok').length >= okBefore + 3, 30_000);
  await waitFor('every slow client to be cut off', () => closedAfter.length === slowOnes.length, 100_000, 200).catch(() => undefined);
  t.diagnostic(`slow clients cut off after ${Math.min(...closedAfter)}..${Math.max(...closedAfter)} ms`);
  assert.equal(closedAfter.length, 40, 'every slow client was cut off within 100 s');
  assert.ok(Math.max(...closedAfter) < 75_000, 'within the request timeout (30 s) and one check interval (30 s)');
  assert.ok(d.alive());
});

// ---------------------------------------------------------------------------------------------------------
// Secrets

/** A webhook receiver on loopback: `answer` decides each delivery's status (or to hang); bodies and headers are kept. */
async function receiver(site: Site, answer: (n: number) => number | 'hang' | { redirect: string }): Promise<{ url: string; got: Array<{ body: string; headers: IncomingMessage['headers']; url: string }> }> {
  const got: Array<{ body: string; headers: IncomingMessage['headers']; url: string }> = [];
  const hanging: Array<() => void> = [];
  const server: Server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ body, headers: req.headers, url: req.url ?? '' });
      const a = answer(got.length);
      if (a === 'hang') hanging.push(() => res.destroy());
      else if (typeof a === 'object') res.writeHead(302, { location: a.redirect }).end();
      else res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  site.cleanups.push(() => new Promise<void>((r) => {
    for (const h of hanging) h();
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, got };
}

void test('secrets (repository password, API tokens, webhook secret and query token, PostgreSQL passwords) appear in nothing the daemon writes or answers', { timeout: 180_000 }, async (t) => {
  const site = await makeSite(t);
  const { PgCluster } = await import('../helpers/postgres.ts');
  const pgPass = `pgpw-${randomBytes(6).toString('hex')}`;
  const pg = await PgCluster.create(t, join(site.dir, 'pg'), { password: pgPass });
  const secrets: Record<string, string> = {
    'repository password': PASSWORD,
    'admin token (token_env)': `adm-${randomBytes(12).toString('hex')}`,
    'viewer token (hash)': `vw-${randomBytes(12).toString('hex')}`,
    'webhook secret': `whs-${randomBytes(12).toString('hex')}`,
    'webhook query token': `whq-${randomBytes(12).toString('hex')}`,
    'PostgreSQL password': pgPass,
    'wrong PostgreSQL password': `wrongpg-${randomBytes(6).toString('hex')}`,
  };
  writeFileSync(join(site.dir, 'hook.key'), `${secrets['webhook secret']}\n`, { mode: 0o600 });
  const hook = await receiver(site, (n) => (n <= 2 ? 500 : 204));
  const port = await freePort();
  const groups = [
    filesGroup(site, 'web'),
    '  db:',
    '    members:',
    `      - postgres: { conn: ${q(pg.uri('postgres', pgPass))} }`,
    `      - postgres: { conn: ${q(`host=127.0.0.1 port=${pg.port} user=postgres dbname=postgres password=${secrets['wrong PostgreSQL password']}`)} }`,
  ].join('\n');
  const extra = [
    `  tokens:`,
    `    - { name: ops, role: admin, token_env: LB_TEST_ADMIN }`,
    `    - { name: grafana, role: viewer, hash: "sha256:${sha256hex(secrets['viewer token (hash)']!)}" }`,
    'notify:',
    '  webhooks:',
    `    - { url: ${q(`${hook.url}/hook?token=${secrets['webhook query token']}`)}, secret_file: ${q(join(site.dir, 'hook.key'))}, timeout: 2s }`,
  ].join('\n');
  writeFileSync(site.config, configText(site, { port, groups }).replace('  tls: false\n', `  tls: false\n${extra.split('\n').slice(0, 3).join('\n')}\n`) + extra.split('\n').slice(3).join('\n') + '\n');
  const d = await started(spawnDaemon(site, { LB_TEST_ADMIN: secrets['admin token (token_env)']! }));
  const admin = secrets['admin token (token_env)']!;
  const viewer = secrets['viewer token (hash)']!;
  // Wrong tokens that look like the right ones, and a secret pasted as a token by mistake.
  for (const tok of [admin.slice(0, -1) + 'x', PASSWORD, `${admin} ${admin}`]) await http(d, 'GET', '/v1/status', { token: tok });
  for (const g of ['web', 'db']) {
    const a = await http(d, 'POST', `/v1/groups/${g}/backup`, { token: admin });
    assert.equal(a.status, 202, a.text);
    await waitJob(d, admin, a.json.job.id);
  }
  await pg.stop();
  const again = await http(d, 'POST', '/v1/groups/db/backup', { token: admin });
  const failed = await waitJob(d, admin, again.json.job.id);
  assert.equal(failed.status, 'failed');
  await waitFor('the webhook to get the failure notice (after two 500s)', () => hook.got.some((g) => g.body.includes('job_failed')), 60_000);
  // Everything it says or answers.
  const answers = await Promise.all([
    ...['/v1/status', '/v1/groups', '/v1/groups/db', '/v1/jobs?limit=1000', '/v1/audit?limit=1000', '/metrics', '/v1/openapi.json', '/v1/groups/db/snapshots'].map((p) => http(d, 'GET', p, { token: admin }).then((a) => `${p}: ${a.text}`)),
    http(d, 'GET', '/v1/status', { token: viewer }).then((a) => `viewer /v1/status: ${a.text}`),
  ]);
  const snaps = await lifeboat(['-r', site.repo, '--json', 'snapshots']);
  signal(d, 'SIGTERM');
  await d.exited;
  const files = readdirSync(site.data).filter((f) => statSync(join(site.data, f)).isFile() && f !== 'local.token' && f !== 'api.key');
  const places: Record<string, string> = {
    stdout: d.stdout(),
    stderr: d.stderr(),
    ...Object.fromEntries(files.map((f) => [`data/${f}`, readFileSync(join(site.data, f)).toString('latin1')])),
    'API answers': answers.join('\n'),
    'webhook deliveries': JSON.stringify(hook.got.map((g) => ({ body: g.body, headers: g.headers }))),
    'snapshots --json': snaps.stdout,
  };
  const leaks: string[] = [];
  for (const [what, secret] of Object.entries(secrets)) {
    for (const [where, text] of Object.entries(places)) {
      for (const form of new Set([secret, encodeURIComponent(secret)])) if (text.includes(form)) leaks.push(`${what} in ${where}: …${text.slice(Math.max(0, text.indexOf(form) - 120), text.indexOf(form) + form.length + 40)}…`);
    }
  }
  assert.deepEqual(leaks, []);
  assert.ok(events(d, 'job-ended', (e) => e['group'] === 'db').every((e) => !String(e['error'] ?? '').includes(pgPass)));
  t.diagnostic(`db errors: ${events(d, 'job-ended', (e) => e['group'] === 'db').map((e) => String(e['error'] ?? e['status']).slice(0, 200)).join(' || ')}`);
});

void test('webhook URLs that carry a credential (user:password@, or a token in the path as chat services do): it must not reach the logs or a viewer\'s /v1/status', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const pathSecret = `XOXB${randomBytes(10).toString('hex')}`;
  const userSecret = `whp-${randomBytes(10).toString('hex')}`;
  const hook = await receiver(site, () => 500);
  const port = await freePort();
  const viewerToken = randomBytes(16).toString('hex');
  const extra = [
    `  tokens: [ { name: grafana, role: viewer, hash: "sha256:${sha256hex(viewerToken)}" } ]`,
    'notify:',
    '  webhooks:',
    `    - { url: ${q(`${hook.url}/services/T0001/B0001/${pathSecret}`)}, timeout: 2s }`,
    `    - { url: ${q(`${hook.url.replace('http://', `http://ops:${userSecret}@`)}/hook`)}, timeout: 2s }`,
  ];
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site, 'web') }).replace('  tls: false\n', `  tls: false\n${extra[0]}\n`) + extra.slice(1).join('\n') + '\n');
  const d = await started(spawnDaemon(site));
  // A failing backup: a job_failed notice for both webhooks.
  rmSync(site.src, { recursive: true });
  const a = await http(d, 'POST', '/v1/groups/web/backup', { token: localToken(site) });
  assert.equal((await waitJob(d, localToken(site), a.json.job.id)).status, 'failed');
  await waitFor('both webhooks to fail twice', () => events(d, 'webhook-failed', (e) => e['attempt'] === 2).length >= 2, 30_000);
  const status = await http(d, 'GET', '/v1/status', { token: viewerToken });
  t.diagnostic(`deliveries that reached the receiver: ${hook.got.map((g) => g.url.replace(pathSecret, 'PATHSECRET')).join(', ')}`);
  const leaks: string[] = [];
  for (const [what, secret] of [['path token', pathSecret], ['URL password', userSecret]] as const) {
    if (d.stdout().includes(secret)) leaks.push(`${what} in the log`);
    if (status.text.includes(secret)) leaks.push(`${what} in a viewer's /v1/status`);
  }
  assert.deepEqual(leaks, []);
  assert.ok(hook.got.some((g) => g.headers.authorization !== undefined), 'the webhook with user:password@ was never delivered (fetch refuses URLs with credentials)');
});

void test('webhook receivers that hang, answer 500 forever, redirect, or trickle: backups keep their schedule, the API answers, SIGTERM still exits within 10 s', { timeout: 150_000 }, async (t) => {
  const site = await makeSite(t);
  const hang = await receiver(site, () => 'hang');
  const fail = await receiver(site, () => 500);
  const redirect = await receiver(site, () => ({ redirect: 'http://169.254.169.254/latest/meta-data/' }));
  // Accepts the connection, then sends one byte of its status line every 2 s.
  const trickleSockets: Socket[] = [];
  const trickle = await new Promise<{ port: number; close: () => void }>((resolve) => {
    const srv = createHttpServer();
    srv.on('connection', (s) => {
      trickleSockets.push(s);
      const line = 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n';
      let i = 0;
      const iv = setInterval(() => (i < line.length && !s.destroyed ? s.write(line[i++]!) : clearInterval(iv)), 2000);
      s.on('close', () => clearInterval(iv));
    });
    srv.removeAllListeners('request');
    srv.listen(0, '127.0.0.1', () => resolve({ port: (srv.address() as { port: number }).port, close: () => (srv.closeAllConnections(), srv.close()) }));
  });
  site.cleanups.push(() => {
    for (const s of trickleSockets) s.destroy();
    trickle.close();
  });
  const port = await freePort();
  const hooks = [`${hang.url}/h`, `${fail.url}/f`, `${redirect.url}/r`, `http://127.0.0.1:${trickle.port}/t`].map((u) => `    - { url: ${q(u)}, timeout: 30s }`);
  // Two groups: one fails on every run (a notice each time it flaps), one must keep its schedule.
  const flapper = join(site.dir, 'flap');
  mkdirSync(flapper);
  writeFileSync(site.config, configText(site, { port, groups: `${filesGroup(site, 'web', 'schedule: "* * * * * *"')}\n  flap:\n    members: [ { files: [${q(flapper)}] } ]\n    schedule: "* * * * * *"\n    rpo: 1s`, extra: `notify:\n  webhooks:\n${hooks.join('\n')}` }));
  const d = await started(spawnDaemon(site));
  // The flapping group: its folder comes and goes, so failures and recoveries alternate.
  const flap = setInterval(() => (existsSync(flapper) ? rmSync(flapper, { recursive: true }) : mkdirSync(flapper)), 1500);
  site.cleanups.push(() => clearInterval(flap));
  await waitFor('notices to be under way', () => events(d, 'notice').length >= 4, 60_000);
  const okBefore = jobEnded(d, 'ok').filter((e) => e['group'] === 'web').length;
  const t0 = Date.now();
  await waitFor('ten more web backups', () => jobEnded(d, 'ok').filter((e) => e['group'] === 'web').length >= okBefore + 10, 40_000);
  const took = Date.now() - t0;
  assert.ok(took < 20_000, `ten every-second backups took ${took} ms`);
  const h = await http(d, 'GET', '/v1/health', { timeoutMs: 3000 });
  assert.equal(h.status, 200);
  assert.ok(redirect.got.length > 0 && !events(d, 'webhook-failed').some((e) => /169\.254/.test(String(e['error']))), 'the redirect was not followed');
  clearInterval(flap);
  t.diagnostic(`notices: ${events(d, 'notice').length}, delivery failures logged: ${events(d, 'webhook-failed').length}, hanging requests held: ${hang.got.length}`);
  const t1 = Date.now();
  signal(d, 'SIGTERM');
  const end = await d.exited;
  assert.equal(end.code, 0, d.stderr());
  assert.ok(Date.now() - t1 < 10_000, `SIGTERM took ${Date.now() - t1} ms`);
});

void test('SIGTERM during a restore through the API: the restore must be cancelled, not finished by a process that has already said "stopped" and let go of its data folder', { timeout: 180_000 }, async (t) => {
  const site = await makeSite(t);
  // 40,000 small files: a restore that takes a while.
  for (let i = 0; i < 40; i++) {
    const dir = join(site.src, `d${i}`);
    mkdirSync(dir);
    for (let j = 0; j < 1000; j++) writeFileSync(join(dir, `f${j}`), `${i}/${j} ${randomBytes(64).toString('hex')}\n`);
  }
  const port = await freePort();
  const restoreRoot = join(site.dir, 'restore');
  mkdirSync(restoreRoot);
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site) }) + `  restore_paths: [${q(restoreRoot)}]\n`);
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  const b = await http(d, 'POST', '/v1/groups/web/backup', { token });
  assert.equal((await waitJob(d, token, b.json.job.id, 120_000)).status, 'ok');
  const target = join(restoreRoot, 'r1');
  const t0 = Date.now();
  const restore = http(d, 'POST', '/v1/restore', { token, body: { group: 'web', snapshot: 'latest', target }, timeoutMs: 170_000 }).catch((e: Error) => e);
  const count = (): number => (existsSync(target) ? readdirSync(target, { recursive: true }).length : 0);
  await waitFor('the restore to be writing', () => count() > 500, 60_000, 10);
  const t1 = Date.now();
  signal(d, 'SIGTERM');
  let atStopped = -1;
  await waitFor('"stopped"', () => !d.alive() || events(d, 'stopped').length > 0, 30_000, 5);
  atStopped = count();
  const stoppedAfter = Date.now() - t1;
  const end = await d.exited;
  const took = Date.now() - t1;
  const written = count();
  t.diagnostic(`restore writing after ${t1 - t0} ms; "stopped" after ${stoppedAfter} ms with ${atStopped} entries written; exit after ${took} ms (${JSON.stringify(end)}) with ${written}; answer: ${String(((await restore) as Answer).status ?? (await restore))}`);
  assert.equal(end.code, 0, d.stdout().slice(-1500));
  assert.ok(took < 10_000, `exit took ${took} ms`);
  assert.ok(written < 20_000, `the restore was not cancelled: ${written} of 40,041 entries written, ${written - atStopped} of them after the daemon said "stopped"`);
});

// ---------------------------------------------------------------------------------------------------------
// Reloads under running jobs

void test('a reload that moves the API (api.listen) must be applied or refused, not reported as reloaded while the old address is kept', { timeout: 90_000 }, async (t) => {
  const site = await makeSite(t);
  const portA = await freePort();
  writeFileSync(site.config, configText(site, { port: portA, groups: filesGroup(site) }));
  const d = await started(spawnDaemon(site));
  const portB = await freePort();
  writeFileSync(site.config, configText(site, { port: portB, groups: filesGroup(site) }));
  signal(d, 'SIGHUP');
  await waitFor('the reload', () => events(d, 'config-reloaded').length + events(d, 'reload-refused').length > 0, 30_000);
  const st = await lifeboat(['status', '-c', site.config]);
  t.diagnostic(`reload: ${JSON.stringify(d.events.filter((e) => /reload/.test(String(e['event']))))}; lifeboat status: exit ${st.code} ${st.stderr.trim().split('\n')[0]}`);
  const refused = events(d, 'reload-refused', (e) => /api/.test(String(e['error'])));
  assert.ok(refused.length > 0 || st.code === 0, 'the new address answers, or the reload said why it was not taken');
});

void test('a group removed, and a group moved to another repository, while their jobs run: the jobs end cleanly where they began, the next runs follow the new file', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const other = join(site.dir, 'other');
  mkdirSync(other);
  await newRepo(other);
  const port = await freePort();
  const gate = join(site.dir, 'gate');
  const hooks = `hooks: { pre: "while [ ! -e ${gate} ]; do sleep 0.1; done" }`;
  const groups = (moved: boolean, removed: boolean): string => [filesGroup(site, 'stay', `repository: ${moved ? 'other' : 'main'}\n${hooks}`), ...(removed ? [] : [filesGroup(site, 'gone', `repository: main\n${hooks}`)])].join('\n');
  const write = (moved: boolean, removed: boolean): void => writeFileSync(site.config, configText(site, { port, groups: groups(moved, removed) }).replace('repositories:\n', `repositories:\n  other: { path: ${q(join(other, 'repo'))}, password_file: ${q(site.pw)} }\n`));
  write(false, false);
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  const ids: Record<string, number> = {};
  for (const g of ['stay', 'gone']) ids[g] = (await http(d, 'POST', `/v1/groups/${g}/backup`, { token })).json.job.id;
  // A second job of each waits behind the running one.
  for (const g of ['stay', 'gone']) ids[`${g}2`] = (await http(d, 'POST', `/v1/groups/${g}/backup`, { token })).json.job.id;
  await waitFor('both jobs running', () => events(d, 'job-started').length >= 2, 30_000);
  write(true, true);
  signal(d, 'SIGHUP');
  await waitFor('the reload', () => events(d, 'config-reloaded').length > 0, 30_000);
  writeFileSync(gate, '');
  const jobs: Record<string, Record<string, unknown>> = {};
  for (const [k, id] of Object.entries(ids)) jobs[k] = await waitJob(d, token, id);
  t.diagnostic(Object.entries(jobs).map(([k, j]) => `${k}: ${String(j['status'])}${j['error'] ? ` (${String(j['error'])})` : ''}`).join('; '));
  assert.equal(jobs['stay']!['status'], 'ok', 'the running job ends where it began');
  assert.equal(jobs['gone']!['status'], 'ok', 'the running job of the removed group ends');
  assert.equal(jobs['stay2']!['status'], 'ok');
  assert.equal(jobs['gone2']!['status'], 'failed', 'the waiting job of a removed group fails, saying why');
  assert.match(String(jobs['gone2']!['error']), /no longer in the configuration/);
  // Where the snapshots went: the first in the old repository, the second in the new one.
  const inRepo = async (repo: string): Promise<string[]> => (JSON.parse((await lifeboat(['-r', repo, '--json', 'snapshots'])).stdout) as Array<{ id: string }>).map((s) => s.id);
  const main = await inRepo(site.repo);
  const moved = await inRepo(join(other, 'repo'));
  assert.ok(main.includes((jobs['stay']!['snapshots'] as string[])[0]!), 'the first snapshot is in the old repository');
  assert.ok(moved.includes((jobs['stay2']!['snapshots'] as string[])[0]!), 'the next one is in the new repository');
  assert.equal((await http(d, 'GET', '/v1/groups/gone', { token })).status, 404);
  assert.ok(d.alive());
  for (const r of [site.repo, join(other, 'repo')]) assert.equal((await lifeboat(['-r', r, 'check'])).code, 0);
  signal(d, 'SIGTERM');
  assert.equal((await d.exited).code, 0);
});

void test('hooks that never exit or leave a child behind, and a backed-up folder deleted mid-backup: each job ends, says what happened, and leaves a repository that checks', { timeout: 150_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  const pids = join(site.dir, 'pids');
  mkdirSync(pids);
  // Whatever the hooks leave running is killed by pid after the test.
  site.cleanups.push(() => {
    for (const f of readdirSync(pids)) {
      try {
        process.kill(Number(readFileSync(join(pids, f), 'utf8')), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  const vanishing = join(site.dir, 'vanishing');
  for (let i = 0; i < 20; i++) {
    mkdirSync(join(vanishing, `d${i}`), { recursive: true });
    for (let j = 0; j < 1000; j++) writeFileSync(join(vanishing, `d${i}`, `f${j}`), randomBytes(512));
  }
  const post = join(site.dir, 'post-ran');
  const groups = [
    // The pre hook never ends (and neither does its child): the timeout kills both; the post hook still runs.
    filesGroup(site, 'stuck', `hooks: { pre: "echo $$ > ${pids}/stuck-sh; sleep 1000 & echo $! > ${pids}/stuck-child; wait", post: "touch ${post}", timeout: 2s }`),
    // The pre hook starts a child that keeps running (and holds the hook's stdout) and exits at once.
    filesGroup(site, 'forks', `hooks: { pre: "sleep 60 & echo $! > ${pids}/forks-child" }`),
    // The folder is deleted while it is being read.
    `  vanish:\n    members: [ { files: [${q(vanishing)}, ${q(site.src)}] } ]\n    hooks: { pre: "(sleep 0.3; rm -rf ${vanishing}) > /dev/null 2>&1 &" }`,
  ].join('\n');
  writeFileSync(site.config, configText(site, { port, groups }));
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  const jobs: Record<string, Record<string, unknown>> = {};
  const t0: Record<string, number> = {};
  for (const g of ['stuck', 'forks', 'vanish']) {
    t0[g] = Date.now();
    const a = await http(d, 'POST', `/v1/groups/${g}/backup`, { token });
    jobs[g] = await waitJob(d, token, a.json.job.id, 60_000);
    t0[g] = Date.now() - t0[g]!;
  }
  t.diagnostic(Object.entries(jobs).map(([g, j]) => `${g}: ${String(j['status'])} in ${t0[g]} ms${j['error'] ? ` (${String(j['error']).slice(0, 150)})` : ''}${(j['warnings'] as string[]).length ? ` [${(j['warnings'] as string[]).length} warnings: ${(j['warnings'] as string[])[0]!.slice(0, 100)}]` : ''}`).join('; '));
  assert.equal(jobs['stuck']!['status'], 'failed');
  assert.match(String(jobs['stuck']!['error']), /timed out/);
  assert.ok(existsSync(post), 'the post hook ran after the pre hook timed out');
  // A killed process is gone once nothing but a zombie is left (reaped later, by its parent or init).
  const alive = (f: string): boolean => {
    try {
      const stat = readFileSync(`/proc/${Number(readFileSync(join(pids, f), 'utf8'))}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  };
  await waitFor('the stuck hook and its child to be killed', () => !alive('stuck-sh') && !alive('stuck-child'), 10_000, 20);
  assert.equal(jobs['forks']!['status'], 'ok');
  assert.ok(t0['forks']! < 20_000, `the job waited for the hook's child (${t0['forks']} ms)`);
  assert.ok(['partial', 'failed', 'ok'].includes(String(jobs['vanish']!['status'])));
  assert.ok(d.alive());
  assert.equal((await lifeboat(['-r', site.repo, 'check', '--read-data'])).code, 0);
  signal(d, 'SIGTERM');
  assert.equal((await d.exited).code, 0);
});

void test('unauthenticated requests cannot grow state.db without bound, even from many addresses (refusals are audited up to a rate, then counted; paths are clipped)', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site) }));
  const d = await started(spawnDaemon(site));
  const size = (): number => ['state.db', 'state.db-wal'].map((f) => (existsSync(join(site.data, f)) ? statSync(join(site.data, f)).size : 0)).reduce((a, b) => a + b, 0);
  const before = size();
  const name = 'x'.repeat(15_000);
  let sent = 0;
  for (let a = 0; a < 300; a++) {
    const localAddress = `127.1.${1 + Math.floor(a / 250)}.${1 + (a % 250)}`;
    await Promise.all(Array.from({ length: 5 }, () => http(d, 'GET', `/v1/groups/${name}`, { localAddress, timeoutMs: 20_000 }).then(() => sent++, () => undefined)));
  }
  const grown = size() - before;
  const rows = (await http(d, 'GET', '/v1/audit?limit=1000', { token: localToken(site) })).json.audit.length;
  t.diagnostic(`${sent} unauthenticated requests grew state.db by ${(grown / 1e6).toFixed(1)} MB (audit rows: ${rows}+)`);
  assert.ok(grown < 5e6, `state.db grew by ${(grown / 1e6).toFixed(1)} MB from ${sent} requests without a token`);
});

void test('restores through the API with tricky include paths and a snapshot holding a symlink out: nothing is written outside the target', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  const restoreRoot = join(site.dir, 'restore');
  mkdirSync(restoreRoot);
  const outside = join(site.dir, 'outside');
  mkdirSync(outside);
  // In the snapshot: a link to a folder outside, a link to a file outside, a file under a name that looks like a path.
  symlinkSync(outside, join(site.src, 'out'));
  symlinkSync(join(outside, 'victim'), join(site.src, 'victim-link'));
  writeFileSync(join(site.src, '..%2f..%2fescape'), 'name with slashes in it\n');
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site) }) + `  restore_paths: [${q(restoreRoot)}]\n`);
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  assert.equal((await waitJob(d, token, (await http(d, 'POST', '/v1/groups/web/backup', { token })).json.job.id)).status, 'ok');
  // The link's target now holds a folder and a file a restore might write through.
  mkdirSync(join(outside, 'sub'));
  const includes: unknown[][] = [
    [],
    ['/'],
    [site.src],
    [`${site.src}/../../../../etc`],
    [`${site.src}/out/sub`],
    [`${site.src}/out/../../..`],
    [`${site.src}/victim-link`],
    [`${site.src}/..%2f..%2fescape`],
    ['relative/path'],
    ['..'],
    [`${site.src}/sub/b.txt`, `${site.src}/sub/b.txt`],
    [`${site.src}\u0000/a.txt`],
    [`${site.src}/a.txt`.normalize('NFD') + '\u0301'],
  ];
  const said: string[] = [];
  for (const [i, include] of includes.entries()) {
    const target = join(restoreRoot, `r${i}`);
    const a = await http(d, 'POST', '/v1/restore', { token, body: { group: 'web', snapshot: 'latest', target, include } });
    said.push(`${JSON.stringify(include).slice(0, 60)}: ${a.status}${a.status !== 200 ? ` ${String(a.json?.error?.message ?? a.text).slice(0, 80)}` : ` ${a.json.files} files`}`);
    assert.ok(a.status === 200 || (a.status >= 400 && a.status < 500), said.at(-1));
  }
  t.diagnostic(said.join('\n'));
  // The restored links are links, never followed: nothing appeared outside the target.
  assert.deepEqual(readdirSync(outside).sort(), ['sub']);
  assert.deepEqual(readdirSync(join(outside, 'sub')), []);
  assert.ok(!existsSync(join(site.dir, 'escape')) && !existsSync(join(restoreRoot, 'escape')));
  assert.deepEqual(events(d, 'api-internal-error'), []);
  signal(d, 'SIGTERM');
  assert.equal((await d.exited).code, 0);
});

void test('a slow job of one group (a long check, a slow pre hook, an API restore) must not stall the other groups\' backups on the same repository', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  const slowSrc = join(site.dir, 'slow');
  mkdirSync(slowSrc);
  writeFileSync(join(slowSrc, 'x'), 'x');
  writeFileSync(site.config, configText(site, { port, groups: `${filesGroup(site, 'web', 'schedule: "* * * * * *"\nretention: { last: 2 }')}\n  slow:\n    members: [ { files: [${q(slowSrc)}] } ]\n    hooks: { pre: "sleep 8" }` }));
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  await waitFor('web backing up', () => jobEnded(d, 'ok').length >= 2, 60_000);
  const slow = (await http(d, 'POST', '/v1/groups/slow/backup', { token })).json.job.id as number;
  await waitFor('the slow job to start', () => events(d, 'job-started', (e) => e['job'] === slow).length > 0, 30_000, 10);
  const okAtStart = jobEnded(d, 'ok').filter((e) => e['group'] === 'web').length;
  await sleep(6000);
  const ran = jobEnded(d, 'ok').filter((e) => e['group'] === 'web').length - okAtStart;
  t.diagnostic(`web backups (every second) that ended during 6 s of the other group's pre hook: ${ran}`);
  assert.ok(ran >= 3, `${ran} web backups in 6 s`);
});

void test('a client sending wrong tokens from the host\'s own address must not lock the local admin CLI and a local Prometheus out of the API', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: filesGroup(site) }));
  const d = await started(spawnDaemon(site));
  // An unprivileged local user: a dozen junk tokens at once, from 127.0.0.1 like everyone on this host.
  const junk = Array.from({ length: 12 }, () => http(d, 'GET', '/v1/status', { token: 'guess', localAddress: '127.0.0.1', timeoutMs: 110_000 }).catch(() => undefined));
  await sleep(200);
  const a = await http(d, 'GET', '/v1/status', { token: localToken(site), localAddress: '127.0.0.1', timeoutMs: 110_000 });
  t.diagnostic(`the admin's call answered ${a.status} after ${Math.round(a.ms)} ms`);
  await Promise.all(junk);
  assert.equal(a.status, 200);
  assert.ok(a.ms < 3000, `the local admin waited ${Math.round(a.ms)} ms behind 12 junk requests`);
});

void test('a PostgreSQL server that accepts connections and never answers (hung, or a firewall that drops): the job must end, and SIGTERM must still stop the daemon cleanly', { timeout: 120_000 }, async (t) => {
  const site = await makeSite(t);
  const held: Socket[] = [];
  const blackhole = await new Promise<Server>((resolve) => {
    const s = createHttpServer();
    s.removeAllListeners('connection');
    s.on('connection', (sock: Socket) => held.push(sock));
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
  site.cleanups.push(() => {
    for (const s of held) s.destroy();
    blackhole.close();
  });
  const pgPort = (blackhole.address() as { port: number }).port;
  const port = await freePort();
  writeFileSync(site.config, configText(site, { port, groups: `  db:\n    members: [ { postgres: { conn: "host=127.0.0.1 port=${pgPort} user=postgres dbname=app" } } ]` }));
  const d = await started(spawnDaemon(site));
  const token = localToken(site);
  const id = (await http(d, 'POST', '/v1/groups/db/backup', { token })).json.job.id as number;
  await waitFor('the job to reach the server', () => held.length > 0, 30_000, 10);
  const ended = await waitJob(d, token, id, 20_000).catch(() => undefined);
  t.diagnostic(`after 20 s the job is ${ended ? String(ended['status']) : 'still running'}`);
  const t0 = Date.now();
  signal(d, 'SIGTERM');
  const end = await d.exited;
  const took = Date.now() - t0;
  t.diagnostic(`SIGTERM to exit: ${took} ms, ${JSON.stringify(end)}; ${d.events.filter((e) => /stop/.test(String(e['event']))).map((e) => String(e['event'])).join(', ')}; the job in state.db: ${stateJobs(site).map((j) => j.status).join(',')}`);
  assert.ok(ended, 'the job did not end within 20 s');
  assert.equal(end.code, 0);
  assert.ok(took < 10_000);
});
