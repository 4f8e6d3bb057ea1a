/**
 * Real PostgreSQL clusters for tests: initdb into a temp folder, run as the `postgres` user (the server
 * refuses root), listening on a Unix socket in that folder and on 127.0.0.1 at a free port. Every cluster
 * is stopped (immediate) and its folder removed after the test, also when the test fails.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run, type RunResult } from '../../src/core/index.ts';
import { freePort } from './wait.ts';

/** Where the server binaries are: the newest /usr/lib/postgresql/<major>/bin. */
export function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)) : [];
  if (!majors[0]) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/setup-test-deps.sh installs them)');
  return join(root, majors[0], 'bin');
}

export function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

export interface ClusterOptions {
  /** Extra postgresql.conf lines. */
  conf?: string[];
  /** Password of the `postgres` role, required over TCP (scram-sha-256); the socket trusts. */
  password?: string;
}

export class PgCluster {
  readonly dir: string;
  readonly datadir: string;
  readonly port: number;
  readonly bin: string;
  readonly ids = postgresIds();
  readonly password: string;

  private constructor(dir: string, port: number, password: string) {
    this.dir = dir;
    this.datadir = join(dir, 'data');
    this.port = port;
    this.bin = pgBinDir();
    this.password = password;
  }

  /** Connection over the socket as postgres (trusted). */
  conn(db = 'postgres'): string {
    return `host=${this.dir} port=${this.port} user=postgres dbname=${db}`;
  }

  /** Connection over TCP with the password (a URI). */
  uri(db = 'postgres', password = this.password): string {
    return `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${db}`;
  }

  /**
   * Make a cluster in `dir` (a fresh temp folder of the test) and start it. `t.after` stops it and the temp
   * folder's own cleanup removes the files.
   */
  static async create(t: { after: (fn: () => Promise<void>) => void }, dir: string, opts: ClusterOptions = {}): Promise<PgCluster> {
    const c = new PgCluster(dir, await freePort(), opts.password ?? 'pg-secret');
    mkdirSync(dir, { recursive: true });
    chmodSync(dirname(dir), 0o711); // the server (not root) must reach its folder inside the test's temp folder
    chownSync(dir, c.ids.uid, c.ids.gid);
    chmodSync(dir, 0o755);
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, c.password + '\n', { mode: 0o600 });
    chownSync(pwfile, c.ids.uid, c.ids.gid);
    await c.asPostgres('initdb', ['-D', c.datadir, '-U', 'postgres', '--pwfile', pwfile, '-E', 'UTF8', '--locale=C', '--auth-local=trust', '--auth-host=scram-sha-256']);
    const conf = [
      `port = ${c.port}`,
      `unix_socket_directories = '${dir}'`,
      `listen_addresses = '127.0.0.1'`,
      'fsync = off', // tests: the machine does not crash under them; the server's own crash safety is not what is tested
      'shared_buffers = 32MB',
      'max_wal_size = 256MB',
      ...(opts.conf ?? []),
    ];
    writeFileSync(join(c.datadir, 'postgresql.conf'), '\n' + conf.join('\n') + '\n', { flag: 'a' });
    t.after(() => c.stop());
    await c.start();
    return c;
  }

  /** Adopt an existing data directory (a restore) as a cluster of this test, on a new port. */
  static async adopt(t: { after: (fn: () => Promise<void>) => void }, dir: string, datadir: string): Promise<PgCluster> {
    const c = new PgCluster(dir, await freePort(), 'pg-secret');
    Object.defineProperty(c, 'datadir', { value: datadir });
    mkdirSync(dir, { recursive: true });
    chmodSync(dirname(dir), 0o711);
    chownSync(dir, c.ids.uid, c.ids.gid);
    t.after(() => c.stop());
    return c;
  }

  async asPostgres(tool: string, args: string[], opts: { input?: string; check?: boolean } = {}): Promise<RunResult> {
    const r = await run(join(this.bin, tool), args, {
      uid: this.ids.uid,
      gid: this.ids.gid,
      cwd: '/',
      env: { PATH: `${this.bin}:/usr/bin:/bin`, LANG: 'C.UTF-8' },
      timeoutMs: 120_000,
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
    if (opts.check !== false && r.code !== 0) {
      throw new Error(`${tool} ${args.join(' ')} failed (${r.code}): ${r.stderr}\n${r.stdout.toString()}`);
    }
    return r;
  }

  async start(extra: string[] = []): Promise<void> {
    const opts = [`-p ${this.port}`, `-k ${this.dir}`, ...extra].join(' ');
    const r = await this.asPostgres('pg_ctl', ['-D', this.datadir, '-l', join(this.dir, 'server.log'), '-w', '-t', '120', '-o', opts, 'start'], { check: false });
    if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.stderr}${r.stdout.toString()}\n${this.log()}`);
  }

  /** Stop fast; then make sure no server process of this cluster is left. */
  async stop(): Promise<void> {
    if (!existsSync(join(this.datadir, 'postmaster.pid'))) return;
    await this.asPostgres('pg_ctl', ['-D', this.datadir, '-m', 'immediate', '-w', '-t', '60', 'stop'], { check: false });
    try {
      const pid = Number(readFileSync(join(this.datadir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      /* stopped */
    }
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '(no server log)';
    }
  }

  /** Run SQL through psql over the socket; returns unaligned, tuples-only output. */
  async sql(sql: string, db = 'postgres'): Promise<string> {
    const r = await this.asPostgres('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', this.conn(db), '-c', sql], { check: false });
    if (r.code !== 0) throw new Error(`psql failed: ${r.stderr}`);
    return r.stdout.toString().trim();
  }

  /** Run a script of several statements through psql's stdin. */
  async script(sql: string, db = 'postgres'): Promise<void> {
    await this.asPostgres('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', this.conn(db)], { input: sql });
  }
}

/** A folder the postgres user may use (for a repository that archive_command writes to). */
export function giveToPostgres(path: string): void {
  const { uid, gid } = postgresIds();
  execFileSync('chown', ['-R', `${uid}:${gid}`, path]);
}

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}
