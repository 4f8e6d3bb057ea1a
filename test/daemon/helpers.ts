/**
 * Daemon test helpers: a site in a temp folder (a configuration, a repository with cheap keys, a folder
 * to back up, a folder restores may write into, one token per role), the real daemon process started on
 * it (`node bin/lifeboat.js daemon -c FILE --json`, its JSON log lines read from stdout), and HTTPS calls
 * to its API that verify the daemon's own certificate.
 *
 * Everything a site starts is stopped by pid in the site's one `t.after`, before its folder is removed,
 * whether the test passed or not (node:test runs `after` hooks in the order they were added, so the
 * folder's removal cannot be a separate, earlier hook).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../helpers/wait.ts';
import { newRepo, PASSWORD } from '../helpers/repo.ts';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin', 'lifeboat.js');

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export interface SiteOptions {
  /** The group's backup schedule (cron); none: backups on demand only. */
  schedule?: string;
  rpo?: string;
  /** api.tls as written in YAML (default self-signed). */
  tls?: string;
  /** api.listen host (default 127.0.0.1). */
  host?: string;
  /** More lines for the group (indented by the caller as group keys: `replicate: hot`). */
  groupLines?: string[];
  /** More top-level YAML (sites, journals). */
  extra?: string;
}

export interface Site {
  dir: string;
  config: string;
  data: string;
  repo: string;
  passwordFile: string;
  /** The files group's one backed-up folder (holds a.txt and sub/b.txt). */
  src: string;
  /** api.restore_paths' one folder. */
  restore: string;
  tokens: Record<Role, string>;
  group: string;
  opts: SiteOptions;
  /** Run before the folder is removed, last added first. */
  cleanups: Array<() => Promise<void>>;
}

type After = { after: (fn: () => Promise<void>) => void };

export const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A site in a new temp folder: repository initialised, files to back up, tokens. Nothing runs yet. */
export async function makeSite(t: After, opts: SiteOptions = {}): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-daemon-'));
  const site: Site = {
    dir,
    config: join(dir, 'lifeboat.yaml'),
    data: join(dir, 'data'),
    repo: join(dir, 'repo'),
    passwordFile: join(dir, 'repo.pass'),
    src: join(dir, 'src'),
    restore: join(dir, 'restore'),
    tokens: { viewer: randomBytes(24).toString('hex'), operator: randomBytes(24).toString('hex'), admin: randomBytes(24).toString('hex') },
    group: 'web',
    opts,
    cleanups: [],
  };
  t.after(async () => {
    for (const c of site.cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  mkdirSync(join(site.src, 'sub'), { recursive: true });
  writeFileSync(join(site.src, 'a.txt'), 'alpha\n');
  writeFileSync(join(site.src, 'sub', 'b.txt'), 'bravo '.repeat(1000));
  mkdirSync(site.restore);
  writeFileSync(site.passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  await newRepo(dir);
  return site;
}

/** Writes the site's configuration with the API on `port`. */
export function writeConfig(site: Site, port: number): void {
  const o = site.opts;
  const y = (s: string): string => JSON.stringify(s);
  const lines = [
    `site: { name: test, data: ${y(site.data)} }`,
    'repositories:',
    `  main: { path: ${y(site.repo)}, password_file: ${y(site.passwordFile)} }`,
    'groups:',
    `  ${site.group}:`,
    '    members:',
    `      - files: [${y(site.src)}]`,
    ...(o.schedule ? [`    schedule: ${y(o.schedule)}`] : []),
    ...(o.rpo ? [`    rpo: ${o.rpo}`] : []),
    ...(o.groupLines ?? []).map((l) => `    ${l}`),
    'api:',
    `  listen: ${y(`${o.host ?? '127.0.0.1'}:${port}`)}`,
    `  tls: ${o.tls ?? 'self-signed'}`,
    '  tokens:',
    ...ROLES.map((r) => `    - { name: ${r}-token, role: ${r}, hash: "sha256:${sha256hex(site.tokens[r])}" }`),
    `  restore_paths: [${y(site.restore)}]`,
    ...(o.extra ? [o.extra.replace(/\n$/, '')] : []),
  ];
  writeFileSync(site.config, `${lines.join('\n')}\n`);
}

/** The environment of the processes tests start: the test's own LIFEBOAT_* never leak in. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('LIFEBOAT_')) env[k] = v;
  return { ...env, ...extra };
}

/** Sends SIGTERM, then SIGKILL if the process has not left within `graceMs`; resolves once it has exited. */
export async function killByPid(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // Gone in between.
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

export interface RunningDaemon {
  child: ChildProcess;
  pid: number;
  url: string;
  port: number;
  fingerprint: string;
  /** The daemon's certificate (PEM), which the test's requests trust. */
  cert: string;
  /** Every JSON line printed so far. */
  events: Array<Record<string, unknown>>;
  stderr: () => string;
  /** SIGTERM (SIGKILL after 10 s); resolves when it has exited. */
  stop: () => Promise<void>;
}

/**
 * Starts the real daemon on the site, on a free port (another, if something took it in between), and
 * waits for its `api-listening` line. The process is killed in the site's cleanup. `entry`: a built
 * main.js to run instead of bin/lifeboat.js (which runs dist/ or, when src/ is newer, the sources).
 */
export async function startDaemon(site: Site, opts: { entry?: string } = {}): Promise<RunningDaemon> {
  let last = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    writeConfig(site, port);
    const child = spawn(process.execPath, [opts.entry ?? bin, 'daemon', '-c', site.config, '--json'], { cwd: root, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = (): Promise<void> => killByPid(child);
    site.cleanups.push(stop);
    const events: Array<Record<string, unknown>> = [];
    let err = '';
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.trim()) events.push(JSON.parse(l) as Record<string, unknown>);
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    let exited = false;
    child.once('exit', () => (exited = true));
    await waitFor('the daemon to listen', () => exited || events.some((e) => e['event'] === 'api-listening'), 60_000, 25);
    const listening = events.find((e) => e['event'] === 'api-listening');
    if (listening) {
      return {
        child,
        pid: child.pid!,
        url: String(listening['url']),
        port,
        fingerprint: String(listening['fingerprint']),
        cert: readFileSync(join(site.data, 'api.crt'), 'utf8'),
        events,
        stderr: () => err,
        stop,
      };
    }
    last = `exit ${child.exitCode}\n${err}${events.map((e) => JSON.stringify(e)).join('\n')}`;
    if (!/another process holds it/.test(err)) break;
  }
  throw new Error(`the daemon did not start:\n${last}`);
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON (undefined when it is not). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** From sending the request to the end of the answer. */
  ms: number;
}

export interface CallOptions {
  token?: string;
  /** An object is sent as JSON; a string or Buffer as is. */
  body?: unknown;
  headers?: Record<string, string>;
  /** Send the body in chunks without a Content-Length. */
  chunked?: boolean;
  /** The client's own address (127.x.y.z): the daemon's slowdown is per client address. */
  localAddress?: string;
  agent?: Agent;
}

/** One HTTPS call to the daemon, trusting only its certificate. */
export function call(d: RunningDaemon, method: 'GET' | 'POST', path: string, o: CallOptions = {}): Promise<Answer> {
  const body = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
  const headers: Record<string, string> = {
    ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}),
    ...(body ? { 'content-type': 'application/json' } : {}),
    ...(body && !o.chunked ? { 'content-length': String(body.length) } : {}),
    ...o.headers,
  };
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = httpsRequest(new URL(path, d.url), {
      method,
      headers,
      ca: d.cert,
      timeout: 60_000,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      ...(o.agent ? { agent: o.agent } : {}),
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
    req.on('error', (e) => reject(Object.assign(e, { message: `${method} ${path}: ${e.message}` })));
    req.on('response', (res) => void readAnswer(res, t0).then(resolve, reject));
    if (body && o.chunked) {
      for (let i = 0; i < body.length; i += 8192) req.write(body.subarray(i, i + 8192));
      req.end();
    } else req.end(body);
  });
}

/** A readable account of an answer for assertion messages. */
export function showAnswer(a: Answer): string {
  return `status ${a.status}: ${a.text.slice(0, 2000)}`;
}

let nextAddress = 0;
/** A loopback address no earlier call of this process used (127.0.1.1, 127.0.1.2, ...): a fresh client. */
export function freshClientAddress(): string {
  const n = ++nextAddress;
  return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`;
}

const FINISHED = new Set(['ok', 'partial', 'failed', 'interrupted']);

/** Polls the job until it has finished; returns it as the API shows it. */
export async function waitJob(d: RunningDaemon, token: string, id: number, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  let job: Record<string, unknown> = {};
  await waitFor(
    `job ${id} to finish`,
    async () => {
      const a = await call(d, 'GET', `/v1/jobs/${id}`, { token });
      job = a.json as Record<string, unknown>;
      return a.status === 200 && FINISHED.has(String(job['status']));
    },
    timeoutMs,
    100,
  );
  return job;
}

/** Queues a backup of the site's group through the API and waits for it; fails unless it ended ok. */
export async function backupNow(d: RunningDaemon, site: Site): Promise<Record<string, unknown>> {
  const a = await call(d, 'POST', `/v1/groups/${site.group}/backup`, { token: site.tokens.operator, body: {} });
  if (a.status !== 202) throw new Error(`backup not queued: ${showAnswer(a)}`);
  const job = await waitJob(d, site.tokens.operator, Number((a.json as { job: { id: number } }).job.id));
  if (job['status'] !== 'ok') throw new Error(`backup job ended ${JSON.stringify(job)}`);
  return job;
}

export interface AuditEntry {
  id: number;
  time: number;
  actor: string;
  role: string;
  method: string;
  path: string;
  status: number;
  outcome: string;
  remote: string;
  detail?: string;
}

/** The audit log, oldest first. */
export async function auditLog(d: RunningDaemon, site: Site): Promise<AuditEntry[]> {
  const a = await call(d, 'GET', '/v1/audit?limit=1000', { token: site.tokens.admin });
  if (a.status !== 200) throw new Error(`audit: ${showAnswer(a)}`);
  return ((a.json as { audit: AuditEntry[] }).audit).slice().reverse();
}

/** Every job, newest first. */
export async function jobList(d: RunningDaemon, site: Site): Promise<Array<Record<string, unknown>>> {
  const a = await call(d, 'GET', '/v1/jobs?limit=1000', { token: site.tokens.admin });
  if (a.status !== 200) throw new Error(`jobs: ${showAnswer(a)}`);
  return (a.json as { jobs: Array<Record<string, unknown>> }).jobs;
}

/** An answer's status, headers and body (as text, and as JSON when it parses), and its time since `t0`. */
export function readAnswer(res: IncomingMessage, t0: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: performance.now() - t0 });
    });
  });
}
