/**
 * The site daemon's own costs: what it takes while it waits, how fast its API answers, how late its
 * scheduler starts jobs. Build first (the daemon runs as users run it, `bin/lifeboat.js` on dist/), then:
 *
 *   npm run --silent build && npx tsx bench/daemon.ts [--idle-s 60] [--settle-s 5] [--clients 50]
 *       [--requests 10000] [--load-s 20] [--lag-s 30] [--attribute] [--attribute-s 30] [--profile]
 *       [--wait-quiet MIN] [--keep] [--out DIR]
 *   npx tsx bench/daemon.ts --lifeboat-commit HEAD   # a clean, built copy of a commit (bench/work/lifeboat-<sha>/),
 *                                                    # while others keep changing the working tree
 *
 * Needs root (the PostgreSQL cluster runs as the `postgres` user, as in the tests) and the PostgreSQL server
 * binaries (scripts/setup-test-deps.sh). Takes about 6 minutes, 16 with --attribute. Writes
 * bench/results/daemon-<date>.md and .json; bench/README.md says what the figures mean. Phases, on one site
 * in a temp folder (a repository made by `lifeboat init`; a files group of a small tree, an SQLite group of
 * a small database, a PostgreSQL group of a real cluster; the API on loopback with a self-signed
 * certificate):
 *
 * 1. idle: the three groups on an hourly schedule whose minute is half an hour away, so nothing runs.
 *    The daemon starts, listens, is left alone `--settle-s`, then /proc is sampled for `--idle-s`: CPU
 *    (utime + stime of /proc/PID/stat, as % of one core), RSS (VmRSS of /proc/PID/status, peak and mean;
 *    anonymous / file-backed, and by mapping), context switches (how often it wakes), main thread and
 *    the others. Twice: fresh, and again after one backup of each group (a daemon that has worked).
 * 2. API: `GET /v1/status` from `--clients` concurrent keep-alive HTTPS clients that trust only the
 *    daemon's certificate (pinned by its fingerprint, as src/daemon/client.ts does), `--requests` requests
 *    or `--load-s` seconds, whichever comes first: latency percentiles, requests/s, the daemon's CPU and RSS.
 * 3. scheduler lag: the daemon restarted with a fourth group, a tiny folder every second
 *    (`* * * * * *`), for `--lag-s`: per job, its start (the `job-started` log line and the job's `started`
 *    in GET /v1/jobs) minus its due second (`scheduled_for`); `lifeboat_scheduler_lag_seconds` from
 *    /metrics read every second. `--profile` runs this daemon under `node --cpu-prof`.
 * 4. --attribute: what the idle cost is made of: the daemon restarted under variants that each change one
 *    thing from outside (src/ untouched), and bare node processes doing one idle activity each.
 *
 * `--wait-quiet MIN`: the machine is shared; wait up to MIN minutes for 10 s in which it is under 15 % busy.
 * Everything started is stopped in the end, also on failure or Ctrl-C: the daemon by its pid (SIGTERM,
 * SIGKILL after 10 s), the PostgreSQL cluster (pg_ctl stop -m immediate), then the temp folder is removed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { Agent, request as httpsRequest } from 'node:https';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { PgCluster, pgBinDir } from '../test/helpers/postgres.ts';
import { commandEnv } from './measure.ts';
import { lifeboatAtCommit, lifeboatEntry, toolVersion } from './tools.ts';

const { values: o } = parseArgs({
  options: {
    'idle-s': { type: 'string', default: '60' },
    'settle-s': { type: 'string', default: '5' },
    clients: { type: 'string', default: '50' },
    requests: { type: 'string', default: '10000' },
    'load-s': { type: 'string', default: '20' },
    'lag-s': { type: 'string', default: '30' },
    keep: { type: 'boolean', default: false },
    out: { type: 'string' },
    'lifeboat-commit': { type: 'string' },
    attribute: { type: 'boolean', default: false },
    'wait-quiet': { type: 'string', default: '0' },
    profile: { type: 'boolean', default: false },
    'attribute-s': { type: 'string', default: '30' },
  },
});
const idleS = Number(o['idle-s']);
const settleS = Number(o['settle-s']);
const clients = Number(o.clients);
const maxRequestsOpt = Number(o.requests);
const loadS = Number(o['load-s']);
const lagS = Number(o['lag-s']);
const project = resolve(import.meta.dirname, '..');
// The working tree's bin/lifeboat.js (its dist/ must be fresh), or a clean, built copy of a commit
// (bench/tools.ts, as `bench/run.ts --lifeboat-commit`) while others keep changing the tree.
const atCommit = o['lifeboat-commit'] !== undefined ? lifeboatAtCommit(project, o['lifeboat-commit'], join(project, 'bench', 'work')) : undefined;
const bin = atCommit?.script ?? join(project, 'bin', 'lifeboat.js');
const outDir = o.out ?? join(project, 'bench', 'results');

/** Targets from the issue. */
const TARGET_CPU_PCT = 1;
const TARGET_RSS_MIB = 80;

// ---------------------------------------------------------------------------------------------------
// Cleanup: whatever was started is stopped, last started first, also when a phase throws or on Ctrl-C.

const cleanups: Array<{ what: string; fn: () => Promise<void> }> = [];
const onCleanup = (what: string, fn: () => Promise<void>): void => void cleanups.push({ what, fn });
async function cleanupAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c.fn();
    } catch (err) {
      console.error(`cleanup (${c.what}) failed: ${(err as Error).message}`);
    }
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`${sig}: stopping what the benchmark started…`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------
// /proc sampling.

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

interface ThreadSample {
  name: string;
  ticks: number;
  /** Voluntary context switches: the thread slept and was woken. */
  vcs: number;
  nvcs: number;
}

interface ProcSample {
  /** ms, monotonic. */
  t: number;
  ticks: number;
  rssKiB: number;
  /** Anonymous memory (heaps, malloc) and file-backed pages (the node binary, shared libraries) of the RSS. */
  anonKiB: number;
  fileKiB: number;
  vcs: number;
  nvcs: number;
  threads: Map<number, ThreadSample>;
}

function statTicks(text: string): number {
  // Fields after the command name (which may hold spaces and parentheses): state is field 3, utime 14, stime 15.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function statusField(text: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Jiffies of all CPUs: busy (everything but idle and iowait) and total. */
function machineJiffies(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

interface Mapping {
  /** A file's name, or [heap], [anon], [stack]. */
  name: string;
  rssMiB: number;
}

/** The resident memory by mapping (/proc/PID/smaps), the largest first: what the RSS is made of. */
function smapsSummary(pid: number, top = 8): Mapping[] {
  const by = new Map<string, number>();
  let name = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1]!.trim();
      name = path === '' ? '[anon]' : path.startsWith('[') ? path.replace(/^\[anon:.*\]$/, '[anon]') : (path.split('/').pop() ?? path);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) by.set(name, (by.get(name) ?? 0) + Number(rss[1]));
  }
  return [...by.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([n, kib]) => ({ name: n, rssMiB: kib / 1024 }));
}

function sampleProc(pid: number, threads = true): ProcSample {
  const t = performance.now();
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const s: ProcSample = {
    t,
    ticks: statTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')),
    rssKiB: statusField(status, 'VmRSS'),
    anonKiB: statusField(status, 'RssAnon'),
    fileKiB: statusField(status, 'RssFile'),
    vcs: 0,
    nvcs: 0,
    threads: new Map(),
  };
  if (threads) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const st = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        const th: ThreadSample = {
          name: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(),
          ticks: statTicks(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')),
          vcs: statusField(st, 'voluntary_ctxt_switches'),
          nvcs: statusField(st, 'nonvoluntary_ctxt_switches'),
        };
        s.threads.set(Number(tid), th);
        s.vcs += th.vcs;
        s.nvcs += th.nvcs;
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  }
  return s;
}

interface ThreadCost {
  /** `main` (the event loop's thread) or `others` (V8's platform workers, libuv's thread pool, workers). */
  name: string;
  threads: number;
  cpuPct: number;
  wakeupsPerS: number;
}

interface Window {
  seconds: number;
  /** user + sys over the window, as % of one core. */
  cpuPct: number;
  /** The busiest and quietest 1-s interval of the window (% of one core). */
  cpuPctMax1s: number;
  cpuPctMin1s: number;
  rssPeakMiB: number;
  rssMeanMiB: number;
  rssStartMiB: number;
  rssEndMiB: number;
  /** At the end of the window: anonymous and file-backed parts of the RSS. */
  anonEndMiB: number;
  fileEndMiB: number;
  /** Private_Dirty of /proc/PID/smaps_rollup at the end: memory only this process holds and only it can give back. */
  privateDirtyEndMiB: number;
  /** What the RSS was made of at the end of the window (smaps, the largest mappings). */
  mappings: Mapping[];
  /** The whole machine's CPU use over the window, % of all its cores (this process, the benchmark and anything else), and the load average at its end. */
  machineBusyPct: number;
  loadavg: number;
  /** Voluntary context switches per second, all threads: how often the process goes to sleep and is woken. */
  wakeupsPerS: number;
  involuntaryPerS: number;
  /** By thread name (threads of the same name summed). */
  threads: ThreadCost[];
  /** The per-second series: [seconds since start, cpu %, RSS MiB]. */
  series: Array<[number, number, number]>;
}

/** Samples the process every `everyMs` until `stop()` resolves or `seconds` have passed. */
async function sampleWindow(pid: number, seconds: number, everyMs = 1000, until?: Promise<unknown>): Promise<Window> {
  const m0 = machineJiffies();
  const first = sampleProc(pid);
  const samples: ProcSample[] = [first];
  let done = false;
  void until?.then(
    () => (done = true),
    () => (done = true),
  );
  const end = first.t + seconds * 1000;
  while (!done && performance.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(everyMs, Math.max(1, end - performance.now()))));
    samples.push(sampleProc(pid, false));
  }
  const last = sampleProc(pid);
  const m1 = machineJiffies();
  const mappings = smapsSummary(pid);
  const privateDirtyKiB = statusField(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Private_Dirty');
  samples.push(last);
  const dt = (last.t - first.t) / 1000;
  const pct = (ticks: number, s: number): number => (ticks / CLK_TCK / s) * 100;
  const series: Array<[number, number, number]> = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    if (b.t - a.t < everyMs / 2) continue;
    series.push([Math.round((b.t - first.t) / 100) / 10, pct(b.ticks - a.ticks, (b.t - a.t) / 1000), b.rssKiB / 1024]);
  }
  const rss = samples.map((s) => s.rssKiB / 1024);
  const byName = new Map<string, ThreadCost>([
    ['main', { name: 'main', threads: 0, cpuPct: 0, wakeupsPerS: 0 }],
    ['others', { name: 'others', threads: 0, cpuPct: 0, wakeupsPerS: 0 }],
  ]);
  for (const [tid, b] of last.threads) {
    const a = first.threads.get(tid) ?? { name: b.name, ticks: 0, vcs: 0, nvcs: 0 };
    // Node 20 names no thread: every one is "node".
    const name = tid === pid ? 'main' : 'others';
    const c = byName.get(name) ?? { name, threads: 0, cpuPct: 0, wakeupsPerS: 0 };
    c.threads++;
    c.cpuPct += pct(b.ticks - a.ticks, dt);
    c.wakeupsPerS += (b.vcs - a.vcs) / dt;
    byName.set(name, c);
  }
  const cpu1s = series.map((s) => s[1]);
  return {
    seconds: dt,
    cpuPct: pct(last.ticks - first.ticks, dt),
    cpuPctMax1s: cpu1s.length ? Math.max(...cpu1s) : NaN,
    cpuPctMin1s: cpu1s.length ? Math.min(...cpu1s) : NaN,
    rssPeakMiB: Math.max(...rss),
    rssMeanMiB: rss.reduce((x, y) => x + y, 0) / rss.length,
    rssStartMiB: first.rssKiB / 1024,
    rssEndMiB: last.rssKiB / 1024,
    wakeupsPerS: (last.vcs - first.vcs) / dt,
    involuntaryPerS: (last.nvcs - first.nvcs) / dt,
    mappings,
    machineBusyPct: ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100,
    loadavg: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
    anonEndMiB: last.anonKiB / 1024,
    fileEndMiB: last.fileKiB / 1024,
    privateDirtyEndMiB: privateDirtyKiB / 1024,
    threads: [...byName.values()],
    series,
  };
}

// ---------------------------------------------------------------------------------------------------
// The daemon process and its API.

interface Daemon {
  child: ChildProcess;
  pid: number;
  url: string;
  fingerprint: string;
  cert: string;
  token: string;
  events: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Wall ms from spawn to the api-listening line. */
  startMs: number;
  /** SIGTERM, SIGKILL after 10 s; resolves when it has exited; ms it took. */
  stop: () => Promise<number>;
}

async function startDaemon(config: string, data: string, home: string, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<Daemon> {
  const t0 = performance.now();
  // The harness's few environment variables only (bench/measure.ts): not this machine's NODE_EXTRA_CA_CERTS.
  const child = spawn(process.execPath, [...nodeArgs, bin, '--json', 'daemon', '-c', config], { cwd: project, env: commandEnv({ HOME: home, ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async (): Promise<number> => {
    const s0 = performance.now();
    if (gone || child.pid === undefined) return 0;
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // Gone in between.
      }
    }, 10_000);
    await exited;
    clearTimeout(timer);
    return performance.now() - s0;
  };
  onCleanup(`daemon pid ${child.pid}`, async () => void (await stop()));
  const events: Array<Record<string, unknown>> = [];
  let err = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
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
  const until = performance.now() + 60_000;
  let listening: Record<string, unknown> | undefined;
  while (!(listening = events.find((e) => e['event'] === 'api-listening'))) {
    if (gone) throw new Error(`the daemon exited (${child.exitCode ?? child.signalCode}) before listening:\n${err}${events.map((e) => JSON.stringify(e)).join('\n')}`);
    if (performance.now() > until) throw new Error(`the daemon did not listen within 60 s:\n${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    pid: child.pid!,
    url: String(listening['url']),
    fingerprint: String(listening['fingerprint']),
    cert: readFileSync(join(data, 'api.crt'), 'utf8'),
    token: readFileSync(join(data, 'local.token'), 'utf8').trim(),
    events,
    stderr: () => err,
    startMs: performance.now() - t0,
    stop,
  };
}

const canonical = (fp: string): string => fp.replace(/^sha256:/i, '').replaceAll(':', '').toLowerCase();

/**
 * Keep-alive HTTPS to the daemon, trusting its certificate only (as a CA of one), and checking its
 * SHA-256 fingerprint on every new connection as the CLI's client does.
 */
function pinnedAgent(d: Daemon, maxSockets: number): Agent {
  return new Agent({
    keepAlive: true,
    maxSockets,
    ca: d.cert,
    checkServerIdentity: (host: string, cert: PeerCertificate) => {
      if (canonical(cert.fingerprint256) !== canonical(d.fingerprint)) return new Error(`certificate ${cert.fingerprint256} is not the pinned ${d.fingerprint}`);
      return checkServerIdentity(host, cert);
    },
  });
}

function get(d: Daemon, agent: Agent, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, d.url), { agent, headers: { authorization: `Bearer ${d.token}`, accept: 'application/json' }, timeout: 30_000 });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end();
  });
}

async function getJson<T>(d: Daemon, agent: Agent, path: string): Promise<T> {
  const r = await get(d, agent, path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text.slice(0, 500)}`);
  return JSON.parse(r.text) as T;
}

async function post(d: Daemon, path: string): Promise<Record<string, unknown>> {
  const agent = pinnedAgent(d, 1);
  try {
    return await new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(path, d.url), { method: 'POST', agent, headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json', 'content-length': '2' }, timeout: 30_000 });
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`POST ${path}: ${res.statusCode} ${text}`));
          else resolve(JSON.parse(text) as Record<string, unknown>);
        });
      });
      req.end('{}');
    });
  } finally {
    agent.destroy();
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of sorted values. */
function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Dist {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

function dist(values: number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

// ---------------------------------------------------------------------------------------------------
// The site.

interface Site {
  dir: string;
  config: string;
  data: string;
  home: string;
  repo: string;
  pw: string;
  files: string;
  tick: string;
  sqlite: string;
  pg: PgCluster;
}

async function makeSite(): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-bench-daemon-'));
  onCleanup(`remove ${dir}`, async () => {
    if (o.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });
  const home = join(dir, 'home');
  mkdirSync(home);
  const repo = join(dir, 'repo');
  const pw = join(dir, 'repo.pass');
  writeFileSync(pw, 'bench-password-not-secret\n', { mode: 0o600 });
  execFileSync(process.execPath, [bin, '-r', repo, '--password-file', pw, '--no-progress', 'init'], { env: commandEnv({ HOME: home }), stdio: 'pipe' });
  // A small tree: 200 text files of 0.5-4 KiB in 10 folders.
  const files = join(dir, 'files');
  for (let i = 0; i < 200; i++) {
    const sub = join(files, `d${i % 10}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `f${i}.txt`), `line ${i} of the small tree\n`.repeat(20 + ((i * 37) % 130)));
  }
  const tick = join(dir, 'tick');
  mkdirSync(tick);
  writeFileSync(join(tick, 'one.txt'), 'a tiny member\n');
  // A small SQLite database in WAL mode: 2,000 rows.
  const sqlite = join(dir, 'app.db');
  const db = new Database(sqlite);
  db.exec('PRAGMA journal_mode=WAL; CREATE TABLE orders(id INTEGER PRIMARY KEY, what TEXT, qty INTEGER)');
  const ins = db.prepare('INSERT INTO orders(what, qty) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) ins.run(`item ${i}`, i % 17);
  })();
  db.close();
  // A real PostgreSQL cluster (test/helpers/postgres.ts: initdb as postgres, socket in its folder).
  const pg = await PgCluster.create({ after: (fn) => onCleanup('PostgreSQL cluster', fn) }, join(dir, 'pg'));
  await pg.sql("CREATE TABLE orders(id int primary key, what text); INSERT INTO orders SELECT g, 'boat ' || g FROM generate_series(1, 2000) g");
  return { dir, config: join(dir, 'lifeboat.yaml'), data: join(dir, 'data'), home, repo, pw, files, tick, sqlite, pg };
}

/** The configuration: three groups hourly at a minute half an hour away; optionally a fourth every second. */
function writeConfig(site: Site, port: number, everySecond: boolean): { minute: number } {
  const minute = (new Date().getMinutes() + 30) % 60;
  const hourly = `"0 ${minute} * * * *"`;
  const y = (s: string): string => JSON.stringify(s);
  writeFileSync(
    site.config,
    [
      `site: { name: bench, data: ${y(site.data)} }`,
      'repositories:',
      `  main: { path: ${y(site.repo)}, password_file: ${y(site.pw)} }`,
      'groups:',
      '  files:',
      `    members: [ { files: [${y(site.files)}] } ]`,
      `    schedule: ${hourly}`,
      '    retention: { last: 24 }',
      '    rpo: 2h',
      '  app:',
      `    members: [ { sqlite: ${y(site.sqlite)} } ]`,
      `    schedule: ${hourly}`,
      '    retention: { last: 24 }',
      '    rpo: 2h',
      '  db:',
      `    members: [ { postgres: { conn: ${y(site.pg.conn())} } } ]`,
      `    schedule: ${hourly}`,
      '    retention: { last: 24 }',
      '    rpo: 2h',
      ...(everySecond ? ['  tick:', `    members: [ { files: [${y(site.tick)}] } ]`, '    schedule: "* * * * * *"'] : []),
      `api: { listen: ${y(`127.0.0.1:${port}`)}, tls: self-signed }`,
      '',
    ].join('\n'),
  );
  return { minute };
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// The phases.

interface IdleResult {
  label: string;
  window: Window;
  /** Jobs that started during the window (should be none). */
  jobsStarted: number;
}

async function idle(d: Daemon, label: string): Promise<IdleResult> {
  console.log(`${label}: settle ${settleS} s, then sample ${idleS} s…`);
  await sleep(settleS * 1000);
  const before = d.events.filter((e) => e['event'] === 'job-started').length;
  const window = await sampleWindow(d.pid, idleS);
  const jobsStarted = d.events.filter((e) => e['event'] === 'job-started').length - before;
  console.log(`  CPU ${window.cpuPct.toFixed(3)} % of a core, RSS peak ${window.rssPeakMiB.toFixed(1)} MiB (mean ${window.rssMeanMiB.toFixed(1)}), ${window.wakeupsPerS.toFixed(1)} wakeups/s`);
  return { label, window, jobsStarted };
}

interface BackupRun {
  group: string;
  job: number;
  status: string;
  seconds: number;
}

/** One backup of each group through the API, one after the other; waits for each to end. */
async function backupEach(d: Daemon, groups: string[]): Promise<{ runs: BackupRun[]; window: Window }> {
  const runs: BackupRun[] = [];
  const work = (async () => {
    for (const g of groups) {
      const t0 = performance.now();
      const r = await post(d, `/v1/groups/${g}/backup`);
      const id = Number((r['job'] as { id: number }).id);
      await waitFor(`the backup of ${g}`, () => d.events.some((e) => e['event'] === 'job-ended' && e['job'] === id), 120_000);
      const ended = d.events.find((e) => e['event'] === 'job-ended' && e['job'] === id)!;
      runs.push({ group: g, job: id, status: String(ended['status']), seconds: (performance.now() - t0) / 1000 });
      if (ended['status'] !== 'ok') throw new Error(`backup of ${g} ended ${String(ended['status'])}: ${String(ended['error'] ?? '')}`);
    }
  })();
  const window = await sampleWindow(d.pid, 600, 250, work);
  await work;
  return { runs, window };
}

interface LoadResult {
  clients: number;
  requests: number;
  errors: number;
  seconds: number;
  perS: number;
  latencyMs: Dist;
  /** Bytes of one answer. */
  answerBytes: number;
  daemon: Window;
  /** The benchmark process's own CPU (the clients), % of one core. */
  clientCpuPct: number;
  connections: number;
  /** The daemon's RSS 10 s after the last answer (connections closed). */
  rssAfterMiB: number;
}

async function load(d: Daemon, maxRequests = maxRequestsOpt): Promise<LoadResult> {
  console.log(`API: GET /v1/status, ${clients} clients, ${maxRequests} requests or ${loadS} s…`);
  const agent = pinnedAgent(d, clients);
  let connections = 0;
  const warm = await getJson<Record<string, unknown>>(d, agent, '/v1/status');
  const answerBytes = Buffer.byteLength(JSON.stringify(warm));
  // Warm-up: every connection opened (TLS handshakes) before the clock starts.
  await Promise.all(Array.from({ length: clients }, () => get(d, agent, '/v1/status')));
  const lat: number[] = [];
  let errors = 0;
  let issued = 0;
  const t0 = performance.now();
  const deadline = t0 + loadS * 1000;
  const c0 = process.cpuUsage();
  const work = Promise.all(
    Array.from({ length: clients }, async () => {
      while (issued < maxRequests && performance.now() < deadline) {
        issued++;
        const s = performance.now();
        try {
          const r = await get(d, agent, '/v1/status');
          if (r.status !== 200) errors++;
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const daemon = await sampleWindow(d.pid, loadS + 60, 250, work);
  await work;
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  for (const sockets of Object.values(agent.sockets)) connections += sockets?.length ?? 0;
  for (const sockets of Object.values(agent.freeSockets)) connections += sockets?.length ?? 0;
  agent.destroy();
  await sleep(10_000);
  const rssAfterMiB = sampleProc(d.pid, false).rssKiB / 1024;
  const r: LoadResult = {
    clients,
    requests: lat.length,
    errors,
    seconds,
    perS: lat.length / seconds,
    latencyMs: dist(lat),
    answerBytes,
    daemon,
    clientCpuPct: ((cu.user + cu.system) / 1e6 / seconds) * 100,
    connections,
    rssAfterMiB,
  };
  console.log(`  ${r.requests} requests in ${seconds.toFixed(1)} s (${r.perS.toFixed(0)}/s), p50 ${r.latencyMs.p50.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, max ${r.latencyMs.max.toFixed(1)} ms; ${errors} errors`);
  return r;
}

interface LagResult {
  seconds: number;
  /** Due seconds in the window (one per second). */
  dueSeconds: number;
  jobs: number;
  coalesced: number;
  statuses: Record<string, number>;
  /** job-started log line time − scheduled_for, ms. */
  logLagMs: Dist;
  /** started − scheduled_for (GET /v1/jobs), ms. */
  startLagMs: Dist;
  /** queued − scheduled_for: when the timer fired and the job was recorded (the scheduler's part). */
  queueAtMs: Dist;
  /** started − queued: waiting behind the group's previous job (the queue's part). */
  waitMs: Dist;
  /** How long each job ran, s. */
  jobSeconds: Dist;
  /** lifeboat_scheduler_lag_seconds read once a second (the last job's lag), ms. */
  metricLagMs: Dist;
  metricLast: number;
  daemon: Window;
  /** Per job, in due order: [due (ISO), start lag ms, queue wait ms, seconds it ran]. */
  perJob: Array<[string, number, number, number]>;
}

async function schedulerLag(d: Daemon): Promise<LagResult> {
  console.log(`scheduler lag: a group every second for ${lagS} s…`);
  const agent = pinnedAgent(d, 2);
  const metric: number[] = [];
  const t0 = Date.now();
  const tEnd = t0 + lagS * 1000;
  const reading = (async () => {
    while (Date.now() < tEnd) {
      const r = await get(d, agent, '/metrics');
      const m = /^lifeboat_scheduler_lag_seconds\s+(\S+)$/m.exec(r.text);
      if (m) metric.push(Number(m[1]) * 1000);
      await sleep(1000);
    }
  })();
  const daemon = await sampleWindow(d.pid, lagS, 1000);
  await reading;
  const ms = (v: unknown): number => (typeof v === 'string' ? Date.parse(v) : NaN);
  // The jobs due in the window; the schedule goes on meanwhile, so wait for those to end, not for a quiet queue.
  type Job = Record<string, unknown>;
  let jobs: Job[] = [];
  const until = performance.now() + 120_000;
  for (;;) {
    jobs = (await getJson<{ jobs: Job[] }>(d, agent, '/v1/jobs?group=tick&limit=1000')).jobs.filter((j) => ms(j['scheduled_for']) >= t0 && ms(j['scheduled_for']) < tEnd);
    if (jobs.every((j) => j['ended'] !== undefined)) break;
    if (performance.now() > until) throw new Error('the jobs due in the lag window did not end within 2 minutes');
    await sleep(250);
  }
  const m = /^lifeboat_scheduler_lag_seconds\s+(\S+)$/m.exec((await get(d, agent, '/metrics')).text);
  agent.destroy();
  const logTime = new Map<number, number>();
  for (const e of d.events) if (e['event'] === 'job-started' && e['group'] === 'tick') logTime.set(Number(e['job']), ms(e['time']));
  const ran = jobs.filter((j) => j['started'] !== undefined);
  const statuses: Record<string, number> = {};
  for (const j of jobs) statuses[String(j['status'])] = (statuses[String(j['status'])] ?? 0) + 1;
  const inWindow = (e: Record<string, unknown>): boolean => ms(e['time']) >= t0 && ms(e['time']) < tEnd + 1000;
  const r: LagResult = {
    seconds: lagS,
    dueSeconds: Math.floor((tEnd - 1) / 1000) - Math.ceil(t0 / 1000) + 1,
    jobs: jobs.length,
    coalesced: d.events.filter((e) => e['event'] === 'job-coalesced' && e['group'] === 'tick' && inWindow(e)).length,
    statuses,
    logLagMs: dist(ran.flatMap((j) => (logTime.has(Number(j['id'])) ? [logTime.get(Number(j['id']))! - ms(j['scheduled_for'])] : []))),
    startLagMs: dist(ran.map((j) => ms(j['started']) - ms(j['scheduled_for']))),
    queueAtMs: dist(ran.map((j) => ms(j['queued']) - ms(j['scheduled_for']))),
    waitMs: dist(ran.map((j) => ms(j['started']) - ms(j['queued']))),
    jobSeconds: dist(ran.filter((j) => j['ended'] !== undefined).map((j) => (ms(j['ended']) - ms(j['started'])) / 1000)),
    metricLagMs: dist(metric),
    metricLast: m ? Number(m[1]) * 1000 : NaN,
    daemon,
    perJob: ran
      .map((j): [string, number, number, number] => [String(j['scheduled_for']), ms(j['started']) - ms(j['scheduled_for']), ms(j['started']) - ms(j['queued']), (ms(j['ended']) - ms(j['started'])) / 1000])
      .sort((a, b) => a[0].localeCompare(b[0])),
  };
  console.log(`  ${r.jobs} jobs for ${r.dueSeconds} due seconds (${r.coalesced} coalesced), lag p50 ${r.logLagMs.p50} ms, p99 ${r.logLagMs.p99} ms, max ${r.logLagMs.max} ms`);
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Attribution (--attribute): what the idle cost is made of. The daemon again, under variants that change
// one thing each from outside (a preload given with --require, or a glibc tunable), never src/; and bare
// node processes that do one of the daemon's idle activities alone.

/** Loaded into the daemon with --require: a memory report on SIGUSR2, and prom-client's event-loop monitor changed on request. */
const PRELOAD = `'use strict';
// Written by bench/daemon.ts --attribute. Changes nothing unless its variables ask.
const { renameSync, writeFileSync } = require('node:fs');
const v8 = require('node:v8');
const out = process.env.LB_BENCH_MEM_OUT;
if (out) {
  process.on('SIGUSR2', () => {
    const m = process.memoryUsage();
    const c = v8.getHeapCodeStatistics();
    const r = { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, code: c.code_and_metadata_size + c.bytecode_and_metadata_size, spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size])) };
    // With --expose-gc: what is live after a full collection (measured after the rest).
    if (typeof global.gc === 'function') {
      global.gc();
      r.liveAfterGc = process.memoryUsage().heapUsed;
    }
    writeFileSync(out + '.tmp', JSON.stringify(r));
    renameSync(out + '.tmp', out);
  });
}
// prom-client's collectDefaultMetrics() calls perf_hooks.monitorEventLoopDelay({ resolution: 10 }).
const eld = process.env.LB_BENCH_ELD;
if (eld) {
  const ph = require('node:perf_hooks');
  const original = ph.monitorEventLoopDelay;
  const off = { enable: () => true, disable: () => true, reset() {}, percentile: () => 0, min: 0, max: 0, mean: 0, stddev: 0, exceeds: 0, count: 0, percentiles: new Map() };
  ph.monitorEventLoopDelay = (o) => (eld === 'off' ? off : original({ ...o, resolution: Number(eld) }));
  require('node:module').syncBuiltinESMExports();
}
`;

interface MemReport {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** Compiled code and bytecode with their metadata, inside the V8 heap. */
  code: number;
  /** Used bytes per V8 heap space. */
  spaces: Record<string, number>;
  /** heapUsed after a full collection (the variants run with --expose-gc). */
  liveAfterGc?: number;
}

interface VariantRow {
  id: string;
  what: string;
  fresh: Window;
  freshMem?: MemReport;
  worked: Window;
  workedMem?: MemReport;
  /** The shipped variant only: the API load again, then 30 s of quiet: what the RSS keeps, and what it is. */
  afterLoad?: { requests: number; rssPeakMiB: number; rssMiB: number; anonMiB: number; mem?: MemReport; mappings: Mapping[] };
}

interface BaselineRow {
  id: string;
  what: string;
  window: Window;
}

const VARIANTS: Array<{ id: string; what: string; env: Record<string, string>; node?: string[]; newCert?: boolean }> = [
  { id: 'shipped', what: 'as shipped (with the preload, for the memory figures)', env: {} },
  { id: 'new-cert', what: 'as shipped, but its self-signed certificate removed first, so it makes one (as at the first start)', env: {}, newCert: true },
  { id: 'eld-1s', what: "prom-client's event-loop monitor sampling every 1 s instead of 10 ms (`eventLoopMonitoringPrecision: 1000`)", env: { LB_BENCH_ELD: '1000' } },
  { id: 'eld-off', what: "no event-loop monitor (prom-client's lag gauges read 0)", env: { LB_BENCH_ELD: 'off' } },
  { id: 'arena-2', what: 'glibc malloc limited to 2 arenas (`MALLOC_ARENA_MAX=2`)', env: { MALLOC_ARENA_MAX: '2' } },
  { id: 'semi-1', what: "V8's young generation capped (`node --max-semi-space-size=1`)", env: {}, node: ['--max-semi-space-size=1'] },
  { id: 'all', what: 'the three together: monitor every 1 s, 2 arenas, `--max-semi-space-size=1`', env: { LB_BENCH_ELD: '1000', MALLOC_ARENA_MAX: '2' }, node: ['--max-semi-space-size=1'] },
];

async function memReport(d: Daemon, file: string): Promise<MemReport | undefined> {
  rmSync(file, { force: true });
  process.kill(d.pid, 'SIGUSR2');
  const until = performance.now() + 5000;
  while (performance.now() < until) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as MemReport;
    } catch {
      await sleep(50);
    }
  }
  return undefined;
}

async function attribute(site: Site, seconds: number): Promise<{ variants: VariantRow[]; baselines: BaselineRow[] }> {
  const preload = join(site.dir, 'bench-preload.cjs');
  writeFileSync(preload, PRELOAD);
  const variants: VariantRow[] = [];
  for (const v of VARIANTS) {
    console.log(`attribution: ${v.id}…`);
    writeConfig(site, await freePort(), false);
    const memFile = join(site.dir, `mem-${v.id}.json`);
    if (v.newCert) for (const f of ['api.crt', 'api.key']) rmSync(join(site.data, f), { force: true });
    const d = await startDaemon(site.config, site.data, site.home, [...(v.node ?? []), '--expose-gc', '--require', preload], { LB_BENCH_MEM_OUT: memFile, ...v.env });
    await sleep(settleS * 1000);
    const fresh = await sampleWindow(d.pid, seconds);
    const freshMem = await memReport(d, memFile);
    await backupEach(d, ['files', 'app', 'db']);
    await sleep(settleS * 1000);
    const worked = await sampleWindow(d.pid, seconds);
    const workedMem = await memReport(d, memFile);
    let afterLoad: VariantRow['afterLoad'];
    if (v.id === 'shipped') {
      const l = await load(d, Math.min(5000, maxRequestsOpt));
      await sleep(30_000);
      const p = sampleProc(d.pid, false);
      const mem = await memReport(d, memFile);
      afterLoad = { requests: l.requests, rssPeakMiB: l.daemon.rssPeakMiB, rssMiB: p.rssKiB / 1024, anonMiB: p.anonKiB / 1024, mappings: smapsSummary(d.pid, 4), ...(mem ? { mem } : {}) };
    }
    await d.stop();
    variants.push({ id: v.id, what: v.what, fresh, worked, ...(freshMem ? { freshMem } : {}), ...(workedMem ? { workedMem } : {}), ...(afterLoad ? { afterLoad } : {}) });
    console.log(`  fresh ${fresh.cpuPct.toFixed(3)} %, ${fresh.wakeupsPerS.toFixed(1)} wakeups/s, ${fresh.rssMeanMiB.toFixed(1)} MiB; after backups ${worked.cpuPct.toFixed(3)} %, ${worked.rssMeanMiB.toFixed(1)} MiB`);
  }
  const promClient = JSON.stringify(join(project, 'node_modules', 'prom-client'));
  const bare: Array<{ id: string; what: string; code: string }> = [
    { id: 'node', what: 'node, an event loop with nothing due', code: 'setInterval(() => {}, 2 ** 30)' },
    { id: 'node-1s', what: 'node + one 1-s timer (as the daemon\'s RPO tick)', code: 'setInterval(() => {}, 1000)' },
    { id: 'node-eld', what: 'node + monitorEventLoopDelay({ resolution: 10 }) (prom-client\'s default)', code: "require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 }).enable(); setInterval(() => {}, 2 ** 30)" },
    { id: 'node-prom', what: 'node + prom-client collectDefaultMetrics()', code: `const p = require(${promClient}); p.collectDefaultMetrics({ register: new p.Registry() }); setInterval(() => {}, 2 ** 30)` },
  ];
  const baselines: BaselineRow[] = [];
  for (const b of bare) {
    const child = spawn(process.execPath, ['-e', b.code], { env: commandEnv({}), stdio: 'ignore' });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    onCleanup(`${b.id} pid ${child.pid}`, async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGKILL');
        await exited;
      }
    });
    await sleep(Math.max(2, settleS) * 1000);
    baselines.push({ id: b.id, what: b.what, window: await sampleWindow(child.pid!, seconds) });
    process.kill(child.pid!, 'SIGKILL');
    await exited;
    console.log(`  ${b.id}: ${baselines.at(-1)!.window.cpuPct.toFixed(3)} %, ${baselines.at(-1)!.window.wakeupsPerS.toFixed(1)} wakeups/s`);
  }
  return { variants, baselines };
}

// ---------------------------------------------------------------------------------------------------
// Main.

function machine(): Record<string, string | number> {
  const run = (f: string, a: string[]): string => {
    try {
      return execFileSync(f, a, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      return '?';
    }
  };
  return {
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    postgres: run(join(pgBinDir(), 'postgres'), ['--version']),
    clkTck: CLK_TCK,
  };
}

const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '–');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '–');
const ms0 = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(0)} ms` : '–');

function markdown(r: Results): string {
  const mark = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const idleRow = (i: IdleResult): string =>
    `| ${i.label} | ${f2(i.window.cpuPct)} % | ${f1(i.window.cpuPctMax1s)} % | ${f1(i.window.rssPeakMiB)} MiB | ${f1(i.window.rssMeanMiB)} MiB | ${f1(i.window.anonEndMiB)} / ${f1(i.window.fileEndMiB)} MiB | ${f1(i.window.privateDirtyEndMiB)} MiB | ${f1(i.window.wakeupsPerS)} | ${i.jobsStarted} | ${mark(i.window.cpuPct < TARGET_CPU_PCT)} / ${mark(i.window.rssPeakMiB < TARGET_RSS_MIB)} |`;
  const threads = (w: Window): string => w.threads.map((t) => `${t.name}${t.threads > 1 ? ` (${t.threads} threads)` : ''} ${f2(t.cpuPct)} %, ${f1(t.wakeupsPerS)} wakeups/s`).join('; ');
  const maps = (w: Window): string => w.mappings.map((m) => `${m.name} ${f1(m.rssMiB)}`).join(', ');
  const busy = (w: Window): string => `${f1(w.machineBusyPct)} % of all cores busy, load ${f2(w.loadavg)}`;
  const l = r.load;
  const g = r.lag;
  return [
    `# Daemon: idle cost, API latency, scheduler lag (${r.stamp})`,
    '',
    `Machine: ${r.machine['cores']} × ${r.machine['cpu']}, ${r.machine['memGiB']} GiB, Linux ${r.machine['kernel']}, Node ${r.machine['node']}, ${r.machine['postgres']}.`,
    `Lifeboat: ${r.lifeboat}. The daemon: \`node bin/lifeboat.js --json daemon -c lifeboat.yaml\`, the harness's few environment variables only (bench/README.md).`,
    `Site: one repository (production key derivation), groups files (200 files, ${r.site.filesKiB} KiB), app (SQLite, 2,000 rows, WAL) and db (PostgreSQL, 2,000 rows, pg_dump), each hourly at minute ${r.site.minute}; API on 127.0.0.1, self-signed TLS. Daemon start to listening: ${ms0(r.startMs)}.`,
    '',
    `## Idle (${r.settleS} s after listening, then ${r.idleS} s sampled from /proc once a second)`,
    '',
    `Targets: under ${TARGET_CPU_PCT} % of a core, under ${TARGET_RSS_MIB} MiB RSS.`,
    '',
    '| state | CPU (% of one core) | busiest second | RSS peak | RSS mean | RSS anonymous / file-backed (end) | private dirty (end) | wakeups/s | jobs in window | CPU / RSS target |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...r.idle.map(idleRow),
    '',
    ...r.idle.flatMap((i) => [
      `- ${i.label}: by thread, ${threads(i.window)}. RSS by mapping (MiB): ${maps(i.window)}. Machine meanwhile: ${busy(i.window)}.`,
    ]),
    `- Between the two windows, one backup of each group through the API, in turn: ${r.backups.runs.map((b) => `${b.group} ${f2(b.seconds)} s`).join(', ')}; daemon peak RSS meanwhile ${f1(r.backups.window.rssPeakMiB)} MiB.`,
    '- "Wakeups" are voluntary context switches: each is the process going to sleep in epoll_wait and being woken again (a timer, I/O).',
    '',
    `## API: GET /v1/status, ${l.clients} concurrent keep-alive HTTPS clients (pinned certificate)`,
    '',
    '| requests | errors | seconds | requests/s | p50 | p90 | p99 | max | daemon CPU | daemon RSS peak / mean | RSS 10 s later | client CPU |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${l.requests} | ${l.errors} | ${f1(l.seconds)} | ${l.perS.toFixed(0)} | ${f2(l.latencyMs.p50)} ms | ${f2(l.latencyMs.p90)} ms | ${f2(l.latencyMs.p99)} ms | ${f2(l.latencyMs.max)} ms | ${f1(l.daemon.cpuPct)} % | ${f1(l.daemon.rssPeakMiB)} / ${f1(l.daemon.rssMeanMiB)} MiB | ${f1(l.rssAfterMiB)} MiB | ${f1(l.clientCpuPct)} % |`,
    '',
    `Closed loop: each client sends its next request when the answer arrives, so latency ≈ clients / throughput; the clients run in the benchmark's node process on the same ${r.machine['cores']} cores. Answer: ${l.answerBytes} bytes of JSON (three groups). Machine meanwhile: ${busy(l.daemon)}.`,
    '',
    `## Scheduler lag: a group every second (\`* * * * * *\`, one tiny file), ${g.seconds} s`,
    '',
    '| what | n | p50 | p90 | p99 | max |',
    '|---|---:|---:|---:|---:|---:|',
    `| job-started log line − due second | ${g.logLagMs.n} | ${ms0(g.logLagMs.p50)} | ${ms0(g.logLagMs.p90)} | ${ms0(g.logLagMs.p99)} | ${ms0(g.logLagMs.max)} |`,
    `| started − scheduled_for (GET /v1/jobs) | ${g.startLagMs.n} | ${ms0(g.startLagMs.p50)} | ${ms0(g.startLagMs.p90)} | ${ms0(g.startLagMs.p99)} | ${ms0(g.startLagMs.max)} |`,
    `| of which queued − scheduled_for (timer) | ${g.queueAtMs.n} | ${ms0(g.queueAtMs.p50)} | ${ms0(g.queueAtMs.p90)} | ${ms0(g.queueAtMs.p99)} | ${ms0(g.queueAtMs.max)} |`,
    `| of which started − queued (behind the previous job) | ${g.waitMs.n} | ${ms0(g.waitMs.p50)} | ${ms0(g.waitMs.p90)} | ${ms0(g.waitMs.p99)} | ${ms0(g.waitMs.max)} |`,
    `| lifeboat_scheduler_lag_seconds, read each second | ${g.metricLagMs.n} | ${ms0(g.metricLagMs.p50)} | ${ms0(g.metricLagMs.p90)} | ${ms0(g.metricLagMs.p99)} | ${ms0(g.metricLagMs.max)} |`,
    '',
    `Jobs: ${g.jobs} for ${g.dueSeconds} due seconds (${g.coalesced} due seconds found a job of the group already waiting and were folded into it); statuses ${Object.entries(g.statuses).map(([k, v]) => `${k} ${v}`).join(', ')}; a job ran p50 ${f2(g.jobSeconds.p50)} s, max ${f2(g.jobSeconds.max)} s. Daemon meanwhile: CPU ${f1(g.daemon.cpuPct)} % of a core, RSS peak ${f1(g.daemon.rssPeakMiB)} MiB. Machine: ${busy(g.daemon)}. Last metric value: ${ms0(g.metricLast)}.`,
    '',
    ...(r.attribution ? attributionMarkdown(r.attribution) : []),
    ...(r.notes.length ? ['## Notes', '', ...r.notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');
}

function attributionMarkdown(a: NonNullable<Results['attribution']>): string[] {
  const mib = (b: number | undefined): string => (b === undefined ? '–' : f1(b / 2 ** 20));
  const main = (w: Window): ThreadCost => w.threads.find((t) => t.name === 'main')!;
  const others = (w: Window): ThreadCost => w.threads.find((t) => t.name === 'others')!;
  return [
    `## Attribution (${a.seconds} s windows)`,
    '',
    'The daemon restarted on the same site under variants that each change one thing from outside (a `--require` preload, a node option or a glibc tunable; src/ untouched), fresh and after one backup of each group. Every variant runs with `--expose-gc` and the preload, which answers SIGUSR2 with process.memoryUsage() and V8\'s heap statistics at the end of each window (then collects garbage, to tell live data from garbage). Restarts find the certificate and the job history of the runs above, unlike the first start.',
    '',
    '| variant | CPU fresh | CPU after backups | wakeups/s after backups (main thread / others) | RSS fresh | RSS after backups | of which anonymous / file | private dirty | V8 heap used / total, fresh | after backups | of which code | live after a full GC | external (buffers) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...a.variants.map(
      (v) =>
        `| ${v.what} | ${f2(v.fresh.cpuPct)} % | ${f2(v.worked.cpuPct)} % | ${f1(main(v.worked).wakeupsPerS)} / ${f1(others(v.worked).wakeupsPerS)} | ${f1(v.fresh.rssMeanMiB)} MiB | ${f1(v.worked.rssMeanMiB)} MiB | ${f1(v.worked.anonEndMiB)} / ${f1(v.worked.fileEndMiB)} MiB | ${f1(v.worked.privateDirtyEndMiB)} MiB | ${mib(v.freshMem?.heapUsed)} / ${mib(v.freshMem?.heapTotal)} MiB | ${mib(v.workedMem?.heapUsed)} / ${mib(v.workedMem?.heapTotal)} MiB | ${mib(v.workedMem?.code)} MiB | ${mib(v.workedMem?.liveAfterGc)} MiB | ${mib(v.workedMem?.external)} MiB |`,
    ),
    '',
    ...a.variants.slice(0, 1).flatMap((v) => [
      `RSS by mapping after the backups, ${v.id} (MiB): ${v.worked.mappings.map((m) => `${m.name} ${f1(m.rssMiB)}`).join(', ')}.`,
      ...(v.afterLoad
        ? [
            '',
            `After the backups, the API load again (${v.afterLoad.requests} requests, daemon RSS peak ${f1(v.afterLoad.rssPeakMiB)} MiB), then 30 s without a request: RSS ${f1(v.afterLoad.rssMiB)} MiB, of which anonymous ${f1(v.afterLoad.anonMiB)} MiB; V8 heap used / total ${mib(v.afterLoad.mem?.heapUsed)} / ${mib(v.afterLoad.mem?.heapTotal)} MiB, live after a full GC ${mib(v.afterLoad.mem?.liveAfterGc)} MiB, external ${mib(v.afterLoad.mem?.external)} MiB; largest mappings: ${v.afterLoad.mappings.map((m) => `${m.name} ${f1(m.rssMiB)}`).join(', ')}.`,
          ]
        : []),
    ]),
    '',
    'Bare node processes doing one of the daemon\'s idle activities alone:',
    '',
    '| process | CPU (% of one core) | wakeups/s | RSS (anonymous / file) | private dirty |',
    '|---|---:|---:|---:|---:|',
    ...a.baselines.map((b) => `| ${b.what} | ${f2(b.window.cpuPct)} % | ${f1(b.window.wakeupsPerS)} | ${f1(b.window.rssMeanMiB)} MiB (${f1(b.window.anonEndMiB)} / ${f1(b.window.fileEndMiB)}) | ${f1(b.window.privateDirtyEndMiB)} MiB |`),
    '',
  ];
}

interface Results {
  stamp: string;
  machine: Record<string, string | number>;
  lifeboat: string;
  site: { minute: number; filesKiB: number };
  settleS: number;
  idleS: number;
  startMs: number;
  idle: IdleResult[];
  backups: { runs: BackupRun[]; window: Window };
  load: LoadResult;
  lag: LagResult;
  stopMs: number[];
  attribution?: { seconds: number; variants: VariantRow[]; baselines: BaselineRow[] };
  notes: string[];
}

async function main(): Promise<number> {
  const entry = lifeboatEntry(bin, atCommit?.commit);
  if (entry.staleDist) {
    console.error(`${entry.staleDist}\nThe daemon would run the sources through tsx (more memory, more start-up): build first.`);
    return 2;
  }
  const lifeboat = toolVersion('lifeboat', entry);
  // The machine is shared: wait (up to --wait-quiet minutes) for 10 s in which others use under 15 % of it.
  const quietBy = performance.now() + Number(o['wait-quiet']) * 60_000;
  for (;;) {
    const a = machineJiffies();
    await sleep(10_000);
    const b = machineJiffies();
    const busyPct = ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * 100;
    if (busyPct < 15 || performance.now() > quietBy) {
      console.log(`machine: ${busyPct.toFixed(1)} % busy over 10 s before the start`);
      break;
    }
    console.log(`machine ${busyPct.toFixed(0)} % busy (other processes): waiting for a quieter moment…`);
  }
  const stamp = new Date().toISOString().slice(0, 16).replace('T', '-').replace(':', '');
  console.log(`Lifeboat ${lifeboat}`);
  const site = await makeSite();
  const filesKiB = Math.round(Number(execFileSync('du', ['-sk', '--apparent-size', site.files]).toString().split('\t')[0]));
  const notes: string[] = [];

  // Phases 1 and 2: the three hourly groups.
  const { minute } = writeConfig(site, await freePort(), false);
  const d = await startDaemon(site.config, site.data, site.home);
  console.log(`daemon pid ${d.pid} listening at ${d.url} after ${d.startMs.toFixed(0)} ms`);
  const status = await getJson<{ groups: Array<{ name: string; next_backup?: string }> }>(d, pinnedAgent(d, 1), '/v1/status');
  const soonest = Math.min(...status.groups.map((g) => Date.parse(g.next_backup ?? '')));
  if (soonest - Date.now() < (settleS + idleS) * 2000 + 120_000) notes.push(`the hourly runs fall due at ${new Date(soonest).toISOString()}, close to the idle windows`);
  const idle1 = await idle(d, 'fresh: started, no job run yet');
  const backups = await backupEach(d, ['files', 'app', 'db']);
  const idle2 = await idle(d, 'after one backup of each group');
  const loadResult = await load(d);
  const stop1 = await d.stop();

  // Phase 3: the same site with a fourth group every second.
  writeConfig(site, await freePort(), true);
  // --profile: V8 CPU profile of this daemon (bench/profile-summary.ts reads it); it slows the jobs a little.
  const profiles = join(project, 'bench', 'work', `daemon-profile-${stamp}`);
  const d2 = await startDaemon(site.config, site.data, site.home, o.profile ? ['--cpu-prof', '--cpu-prof-dir', profiles] : []);
  const lag = await schedulerLag(d2);
  const stop2 = await d2.stop();
  for (const [i, dd] of [d, d2].entries()) {
    const internal = dd.events.filter((e) => String(e['event']).includes('error') || String(e['event']).includes('failed'));
    if (internal.length) notes.push(`daemon ${i + 1} logged ${internal.length} error events, first: ${JSON.stringify(internal[0])}`);
  }
  if (idle1.jobsStarted || idle2.jobsStarted) notes.push('a job started during an idle window: those numbers include it');
  if (o.profile) notes.push(`the scheduler-lag daemon ran under --cpu-prof (profile in ${profiles}; \`node --import tsx bench/profile-summary.ts ${profiles}\`)`);
  const attributeS = Number(o['attribute-s']);
  const attribution = o.attribute ? { seconds: attributeS, ...(await attribute(site, attributeS)) } : undefined;

  const results: Results = {
    stamp,
    machine: machine(),
    lifeboat,
    site: { minute, filesKiB },
    settleS,
    idleS,
    startMs: d.startMs,
    idle: [idle1, idle2],
    backups,
    load: loadResult,
    lag,
    stopMs: [stop1, stop2],
    ...(attribution ? { attribution } : {}),
    notes,
  };
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `daemon-${stamp}`);
  const md = markdown(results);
  writeFileSync(`${out}.md`, md);
  writeFileSync(`${out}.json`, JSON.stringify(results, null, 1));
  console.log(`\n${md}\nwritten: ${out}.md, ${out}.json`);
  const met = [idle1, idle2].every((i) => i.window.cpuPct < TARGET_CPU_PCT && i.window.rssPeakMiB < TARGET_RSS_MIB);
  if (!met) console.log('\nan idle target was missed (see the table)');
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error((err as Error).stack ?? String(err));
  code = 1;
} finally {
  await cleanupAll();
}
process.exit(code);
