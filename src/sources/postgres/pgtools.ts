/**
 * PostgreSQL's own tools, found and run: psql for catalog queries and the backup session, pg_dump and
 * pg_restore for logical backups, pg_waldump to read commit times from archived WAL. Connection strings
 * are passed to the tools as libpq understands them (URI, key=value, service=NAME; PGPASSWORD, ~/.pgpass
 * and service files work as usual) and are never printed with their password.
 *
 * A server that takes the connection and never answers (hung, or behind a firewall that drops) must not
 * hold a job for ever: every client tool gets a connect timeout (CONNECT_TIMEOUT_S) and every run takes
 * an AbortSignal that kills it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { LifeboatError, run, stderrTail, type RunOptions, type RunResult } from '../../core/index.ts';

/**
 * How long libpq waits for a server to answer a connection, in seconds (per host of a multi-host string).
 * Without a limit libpq waits for ever on a server that accepted the connection and went silent. 10 s is
 * many times what a healthy server needs for its handshake (a few round trips, SCRAM included, even across
 * a continent) and short enough that a job fails long before the next scheduled one. A connect_timeout
 * of the user's (in the connection string, a service file, or PGCONNECT_TIMEOUT) wins.
 */
export const CONNECT_TIMEOUT_S = 10;

/**
 * Stopping a psql session: SIGINT first, on which psql asks the server to cancel the statement running (a
 * backend waiting for a lock does not notice that its client is gone: it would stay queued for the lock,
 * holding up everyone behind it); a cancel request is one short connection, so 1 s is ample. Then SIGTERM,
 * and SIGKILL 2 s later for a psql stuck in a cancel request to a server that does not answer.
 */
const CANCEL_GRACE_MS = 1000;
const STOP_GRACE_MS = 2000;

/** The environment of a PostgreSQL client tool: ours, named lifeboat, with a connect timeout unless one is set. */
export function toolEnv(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PGAPPNAME: 'lifeboat', ...extra };
  // libpq reads PGCONNECT_TIMEOUT below what the connection string and a service file say.
  if (!env['PGCONNECT_TIMEOUT']) env['PGCONNECT_TIMEOUT'] = String(CONNECT_TIMEOUT_S);
  return env;
}

/** The connect timeout a tool run with `env` on `conn` has, in seconds, for messages. */
function connectTimeoutOf(conn: string | undefined, env: NodeJS.ProcessEnv = toolEnv()): string {
  const m = conn === undefined ? null : /(?:^|[\s?&])connect_timeout\s*=\s*'?(\d+)/i.exec(conn);
  return m?.[1] ?? env['PGCONNECT_TIMEOUT'] ?? String(CONNECT_TIMEOUT_S);
}

/** A tool's work cut short by the caller's signal. */
function interrupted(what: string, signal: AbortSignal | undefined): LifeboatError {
  return new LifeboatError('ABORTED', `${what} interrupted`, { cause: signal?.reason });
}

/**
 * The folder of a PostgreSQL tool: LIFEBOAT_PG_BINDIR, else the newest /usr/lib/postgresql/<major>/bin
 * (Debian's layout; pg_dump must be at least as new as the server), else PATH.
 */
export function pgTool(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const dirs: string[] = [];
  if (env['LIFEBOAT_PG_BINDIR']) dirs.push(env['LIFEBOAT_PG_BINDIR']);
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    for (const m of readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a))) dirs.push(join(root, m, 'bin'));
  }
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  return name; // from PATH; run() reports it clearly when missing
}

/** A connection string safe to print: the password of a URI or of `password=` is replaced by `***`. */
export function redactConn(conn: string): string {
  if (/^postgres(ql)?:\/\//i.test(conn)) {
    try {
      const u = new URL(conn);
      if (u.password) u.password = '***';
      u.searchParams.forEach((_, k) => {
        if (k.toLowerCase() === 'password') u.searchParams.set(k, '***');
      });
      return u.toString();
    } catch {
      // A multi-host URI (h1:5432,h2:5432), which URL cannot parse.
      return conn.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
    }
  }
  return conn.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***');
}

/** The same server and credentials as `conn`, another database. */
export function withDatabase(conn: string, db: string): string {
  if (/^postgres(ql)?:\/\//i.test(conn)) {
    const u = new URL(conn);
    u.pathname = '/' + encodeURIComponent(db);
    return u.toString();
  }
  const quoted = `'${db.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  // A bare word is a database name to libpq; key=value strings take the last value of a repeated key.
  return conn.includes('=') ? `${conn} dbname=${quoted}` : `dbname=${quoted}`;
}

/** Quote an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quote an SQL string literal. */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A failure of a PostgreSQL tool as a LifeboatError: connection problems are SOURCE errors naming the target. */
export function toolError(tool: string, conn: string | undefined, r: RunResult, what: string): LifeboatError {
  const tail = stderrTail(r.stderr, 4) || `exit status ${String(r.code ?? r.signal)}`;
  const target = conn === undefined ? '' : ` (${redactConn(conn)})`;
  if (/failed: timeout expired/i.test(r.stderr)) {
    // libpq: connection to server at "HOST", port N failed: timeout expired (one line per host tried).
    const servers = [...r.stderr.matchAll(/connection to server (?:at "([^"]*)", port (\d+)|on socket "([^"]*)") failed: timeout expired/gi)].map((m) =>
      m[3] ?? `${m[1]}:${m[2]}`,
    );
    const where = servers.length ? [...new Set(servers)].join(', ') : 'the server';
    return new LifeboatError('SOURCE', `PostgreSQL at ${where} did not answer within ${connectTimeoutOf(conn)} s${target}: a hung server, or a firewall that drops the traffic`, {
      hint: `check that the server is up and answers (pg_isready -h HOST -p PORT); connect_timeout in the connection string or PGCONNECT_TIMEOUT sets a longer wait (default ${CONNECT_TIMEOUT_S} s)`,
      context: { tool, ...(conn !== undefined ? { target: redactConn(conn) } : {}) },
    });
  }
  const connFailed =
    /connection to server|could not connect|password authentication failed|no password supplied|authentication failed|Connection refused|could not translate host name|definition of service|FATAL: +(database|role) ".*" does not exist/i.test(
      r.stderr,
    );
  if (connFailed) {
    return new LifeboatError('SOURCE', `cannot connect to PostgreSQL${target}: ${tail}`, {
      hint: 'check the connection string, that the server is running, and the password (PGPASSWORD, ~/.pgpass or the string itself)',
      context: { tool, ...(conn !== undefined ? { target: redactConn(conn) } : {}) },
    });
  }
  // Reached, but it refused the work: not "could not reach the database" (exit 14).
  return new LifeboatError('DATABASE', `${what} failed${target}: ${tail}`, { context: { tool, exit: r.code } });
}

/**
 * A connection string without its password, and the password. Secrets never go into a child's arguments,
 * which every user of the machine can read (`ps`, /proc/PID/cmdline): the password goes to the tool in
 * PGPASSWORD instead, which only the tool's owner can read.
 */
export function splitPassword(conn: string): { conn: string; password?: string } {
  if (/^postgres(ql)?:\/\//i.test(conn)) {
    let u: URL;
    try {
      u = new URL(conn);
    } catch {
      return splitUriPassword(conn);
    }
    let password = u.password ? decodeURIComponent(u.password) : undefined;
    u.password = '';
    for (const k of [...u.searchParams.keys()]) {
      if (k.toLowerCase() !== 'password') continue;
      password ??= u.searchParams.get(k) ?? undefined;
      u.searchParams.delete(k);
    }
    return password === undefined ? { conn } : { conn: u.toString(), password };
  }
  const m = /(^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(conn);
  if (!m) return { conn };
  const raw = m[2]!;
  const password = raw.startsWith("'") ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
  return { conn: (conn.slice(0, m.index) + conn.slice(m.index + m[0].length)).trim(), password };
}

/**
 * splitPassword for a URI that URL cannot parse: a multi-host one (postgresql://u:pw@h1:5432,h2:5432/db),
 * whose password would otherwise stay in the arguments.
 */
function splitUriPassword(conn: string): { conn: string; password?: string } {
  const decode = (v: string): string => {
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  let password: string | undefined;
  // The userinfo is what comes before the first @ (an @ in a password is written %40).
  let out = conn.replace(/^(postgres(?:ql)?:\/\/)([^@/?#]*)@/i, (whole, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    if (colon < 0) return whole;
    password = decode(userinfo.slice(colon + 1));
    return `${scheme}${userinfo.slice(0, colon)}@`;
  });
  out = out.replace(/([?&])password=([^&#]*)&?/gi, (_w, sep: string, v: string) => {
    password ??= decode(v);
    return sep;
  });
  out = out.replace(/[?&]$/, '');
  return password === undefined ? { conn } : { conn: out, password };
}

/** The arguments and environment of a PostgreSQL tool with every `-d CONN` stripped of its password. */
function secretFree(args: readonly string[], env: NodeJS.ProcessEnv): { args: string[]; env: NodeJS.ProcessEnv } {
  const out = [...args];
  let password: string | undefined;
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i] !== '-d') continue;
    const split = splitPassword(out[i + 1]!);
    out[i + 1] = split.conn;
    password ??= split.password;
  }
  return { args: out, env: password === undefined ? env : { ...env, PGPASSWORD: password } };
}

/**
 * Run a PostgreSQL tool; a non-zero exit becomes a LifeboatError, and `opts.signal` kills the tool (and
 * what it started: pg_dump's workers) and rejects with ABORTED.
 */
export async function runTool(tool: string, args: string[], conn: string | undefined, what: string, opts: RunOptions = {}): Promise<RunResult> {
  // run() listens for an abort to come: one that came before would not stop the tool.
  if (opts.signal?.aborted) throw interrupted(what, opts.signal);
  const clean = secretFree(args, toolEnv(opts.env));
  const r = await run(pgTool(tool), clean.args, { stopGraceMs: STOP_GRACE_MS, ...opts, env: clean.env });
  if (opts.signal?.aborted) throw interrupted(what, opts.signal);
  if (r.code !== 0) throw toolError(tool, conn, r, what);
  return r;
}

/**
 * pg_restore into a database in one transaction that commits only when pg_restore finished well; anything
 * else (pg_restore failing on a damaged dump, an SQL error, Ctrl-C, a killed process) leaves the database
 * as it was. Without `prelude` that is pg_restore -d --single-transaction. With one (SQL of ours that must
 * run first inside the same transaction, which pg_restore -d cannot do), pg_restore's script (-f -) is fed
 * to psql after it, and the script's end, which holds its COMMIT, is held back until pg_restore has
 * exited 0. That path is slower: psql parses the COPY data that pg_restore would send as it is.
 */
export async function pgRestoreAtomic(conn: string, restoreArgs: string[], what: string, opts: { prelude?: string; signal?: AbortSignal } = {}): Promise<void> {
  const unchanged = (e: LifeboatError): LifeboatError =>
    new LifeboatError(e.code, `${e.message}; nothing was changed`, { ...(e.hint ? { hint: e.hint } : {}), context: e.context, cause: e.cause });
  if (opts.signal?.aborted) throw new LifeboatError('ABORTED', `${what} interrupted; nothing was changed`, { cause: opts.signal.reason });
  if (!opts.prelude) {
    const clean = secretFree(['-d', conn, '--single-transaction', '--exit-on-error', '--no-password', ...restoreArgs], toolEnv());
    const r = await run(pgTool('pg_restore'), clean.args, { env: clean.env, stopGraceMs: STOP_GRACE_MS, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (opts.signal?.aborted) throw new LifeboatError('ABORTED', `${what} interrupted; nothing was changed`);
    if (r.code !== 0) throw unchanged(toolError('pg_restore', conn, r, what));
    return;
  }
  // The script's last bytes hold its COMMIT (then \unrestrict and a closing comment): far less than this.
  const HOLD = 8192;
  const script = new PassThrough({ highWaterMark: 1 << 20 });
  // Our BEGIN makes the script's own a no-op; its warning is not worth showing.
  script.write(`SET client_min_messages = error;\nBEGIN;\n${opts.prelude ? `${opts.prelude}\n` : ''}`);
  let tail = Buffer.alloc(0);
  const holdBack = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, done): void {
      const all = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      if (all.length <= HOLD) {
        tail = Buffer.from(all);
        return done();
      }
      tail = Buffer.from(all.subarray(all.length - HOLD));
      if (script.write(all.subarray(0, all.length - HOLD))) done();
      else script.once('drain', () => done());
    },
  });
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const env = toolEnv();
    const p = secretFree(['-X', '-q', '-w', '-v', 'ON_ERROR_STOP=1', '-d', conn], env);
    let psqlFailedFirst = false;
    let restoreExited = false;
    const psql = run(pgTool('psql'), p.args, { env: p.env, input: script, signal: stop.signal, maxStdout: 0, stopGraceMs: STOP_GRACE_MS }).then((r) => {
      // psql stopped on an error: pg_restore would block writing to it.
      if (r.code !== 0 && !restoreExited && !stop.signal.aborted) {
        psqlFailedFirst = true;
        stop.abort();
      }
      holdBack.destroy(); // a write waiting for psql to drain would wait for ever
      return r;
    });
    const restore = await run(pgTool('pg_restore'), ['-f', '-', '--single-transaction', ...restoreArgs], { env, stdoutTo: holdBack, signal: stop.signal, stopGraceMs: STOP_GRACE_MS });
    restoreExited = true;
    // pg_restore has exited, but what it wrote last may still be on its way through holdBack.
    const complete = restore.code === 0 && !stop.signal.aborted && (await finished(holdBack).then(() => !stop.signal.aborted, () => false));
    if (complete) script.end(tail);
    else script.end(); // without the COMMIT: psql reaches the end inside the transaction, which is rolled back
    const applied = await psql;
    if (opts.signal?.aborted) throw new LifeboatError('ABORTED', `${what} interrupted; nothing was changed`);
    // The first to fail is the cause: psql on a refused statement, pg_restore on a dump it cannot read
    // (psql then fails too, on a script that stops half-way).
    if (restore.code !== 0 && !psqlFailedFirst) throw unchanged(toolError('pg_restore', undefined, restore, `${what} (reading the dump)`));
    if (applied.code !== 0) throw unchanged(toolError('psql', conn, applied, what));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** One query, its result as parsed JSON: the query must produce one row with one json column. */
export async function queryJson<T>(conn: string, sql: string, signal?: AbortSignal): Promise<T> {
  const r = await runTool('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', conn, '-c', sql], conn, 'query', {
    ...(signal ? { signal } : {}),
    timeoutMs: 10 * 60_000,
  });
  return JSON.parse(r.stdout.toString('utf8')) as T;
}

/** Wrap a query returning rows into one returning them as a JSON array. */
export function asJsonArray(sql: string): string {
  return `SELECT coalesce(json_agg(q), '[]'::json) FROM (${sql}) q`;
}

/**
 * A psql session kept open across several steps: an exported snapshot that pg_dump and the catalog query
 * share, or a base backup between pg_backup_start and pg_backup_stop (which must be the same session).
 * Each query's output ends at a marker echoed after it.
 *
 * The signal given to `open` holds for the session's life: on abort psql is stopped (the statement
 * cancelled, then SIGTERM, then SIGKILL), and the query waiting, and every later one, rejects with
 * ABORTED. That is the only way out of a query on a server that stopped answering mid-session.
 */
export class PsqlSession {
  readonly #child: ChildProcess;
  readonly #conn: string;
  readonly #signal: AbortSignal | undefined;
  readonly #closed: Promise<void>;
  #buf = '';
  #stderr = '';
  #waiter: (() => void) | undefined;
  #exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #seq = 0;
  #killTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  readonly #onAbort = (): void => {
    this.#stop();
    this.#waiter?.();
  };

  private constructor(conn: string, signal: AbortSignal | undefined) {
    this.#conn = conn;
    this.#signal = signal;
    const clean = secretFree(['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', conn], toolEnv());
    this.#child = spawn(pgTool('psql'), clean.args, { stdio: ['pipe', 'pipe', 'pipe'], env: clean.env });
    this.#child.stdout!.setEncoding('utf8');
    this.#child.stdout!.on('data', (s: string) => {
      this.#buf += s;
      this.#waiter?.();
    });
    this.#child.stderr!.setEncoding('utf8');
    this.#child.stderr!.on('data', (s: string) => {
      this.#stderr += s;
      if (this.#stderr.length > 65536) this.#stderr = this.#stderr.slice(-65536);
    });
    this.#child.stdin!.on('error', () => undefined);
    this.#closed = new Promise<void>((resolve) => {
      const ended = (code: number | null, sig: NodeJS.Signals | null): void => {
        this.#exited ??= { code, signal: sig };
        if (this.#killTimer) clearTimeout(this.#killTimer);
        this.#signal?.removeEventListener('abort', this.#onAbort);
        this.#waiter?.();
        resolve();
      };
      this.#child.on('close', ended);
      // Not started (no psql): 'close' may not follow.
      this.#child.on('error', (err) => {
        this.#stderr += String(err);
        if (this.#child.pid === undefined) ended(-1, null);
      });
    });
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Open a session; the first round trip proves the connection works (it waits at most the connect timeout). */
  static async open(conn: string, opts: { signal?: AbortSignal } = {}): Promise<PsqlSession> {
    if (opts.signal?.aborted) throw interrupted(`PostgreSQL session (${redactConn(conn)})`, opts.signal);
    const s = new PsqlSession(conn, opts.signal);
    try {
      await s.query('SELECT 1');
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  /** Run SQL; returns its unaligned, tuples-only output. */
  async query(sql: string): Promise<string> {
    const marker = `__lifeboat_${process.pid}_${++this.#seq}__`;
    this.#buf = '';
    if (!this.#signal?.aborted && !this.#exited) this.#child.stdin!.write(`${sql.trim().replace(/;?$/, ';')}\n\\echo ${marker}\n`);
    for (;;) {
      if (this.#signal?.aborted) throw interrupted(`PostgreSQL session (${redactConn(this.#conn)})`, this.#signal);
      const at = this.#buf.indexOf(marker + '\n');
      if (at >= 0) {
        const out = this.#buf.slice(0, at);
        this.#buf = this.#buf.slice(at + marker.length + 1);
        return out.replace(/\n$/, '');
      }
      if (this.#exited) {
        throw toolError('psql', this.#conn, { code: this.#exited.code, signal: this.#exited.signal, stdout: Buffer.alloc(0), stderr: this.#stderr, timedOut: false }, 'query');
      }
      await new Promise<void>((r) => (this.#waiter = r));
      this.#waiter = undefined;
    }
  }

  /** End the session (psql quits; an open transaction or backup mode ends with it) and wait for psql to exit. */
  async close(): Promise<void> {
    if (!this.#exited) {
      if (this.#signal?.aborted) this.#stop();
      else this.#child.stdin!.end('\\q\n');
      // psql quits once the server answers; one that does not is stopped.
      this.#killTimer ??= setTimeout(() => this.#stop(), 10_000);
    }
    await this.#closed;
  }

  /** SIGINT (cancel the statement), SIGTERM, SIGKILL, each after the grace of the one before (see CANCEL_GRACE_MS). */
  #stop(): void {
    if (this.#exited || this.#stopping || this.#child.pid === undefined) return;
    this.#stopping = true;
    if (this.#killTimer) clearTimeout(this.#killTimer);
    this.#child.kill('SIGINT');
    this.#killTimer = setTimeout(() => {
      this.#child.kill('SIGTERM');
      this.#killTimer = setTimeout(() => this.#child.kill('SIGKILL'), STOP_GRACE_MS);
    }, CANCEL_GRACE_MS);
  }
}
