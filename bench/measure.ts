/**
 * Running one measured command: page cache dropped first, the command wrapped in GNU time for CPU and
 * peak RSS, wall time from a monotonic clock, output to a log file, a hard timeout for the process group.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Command {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
}

export interface Measurement {
  /** Wall-clock seconds of the command (monotonic clock around the child). */
  wallS: number;
  userS: number;
  sysS: number;
  /** user + sys of the command and every descendant it waited for. */
  cpuS: number;
  /** Peak resident set of the largest process in the command's tree (GNU time's %M), MiB. */
  maxRssMiB: number;
  /** Seconds `sync` took right after the command: data the command left dirty in the page cache. */
  flushS: number;
  exitCode: number;
  timedOut: boolean;
  log: string;
}

export const TIME_BIN = '/usr/bin/time';

/**
 * The harness's environment variables a measured command gets besides its own (`Command.env`): the same
 * few for every tool. Nothing else the machine sets reaches them: this machine exports
 * NODE_EXTRA_CA_CERTS, with which every node process reads and parses a 200 KB certificate bundle before
 * anything else (`node -e 0`: 0.04 -> 0.13 s warm, 0.14 -> 0.23 s cold; 2026-11-30), a cost of the
 * environment, not of a tool, that a user's machine does not have.
 */
export const KEPT_ENV = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'USER', 'LOGNAME'] as const;

export function commandEnv(own: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of KEPT_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...own };
}

/** `sync; echo 3 > /proc/sys/vm/drop_caches`. Returns false when the kernel refused (not root, container). */
export function dropCaches(): boolean {
  execFileSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}

function sh(cmd: string): string {
  return `'${cmd.replaceAll("'", "'\\''")}'`;
}

export function commandLine(c: Command): string {
  const env = Object.entries(c.env)
    .filter(([k]) => !/PASS/.test(k))
    .map(([k, v]) => `${k}=${sh(v)}`)
    .join(' ');
  return `${c.cwd !== undefined ? `(cd ${sh(c.cwd)} && ` : ''}${env ? `${env} ` : ''}${[c.file, ...c.args].map(sh).join(' ')}${c.cwd !== undefined ? ')' : ''}`;
}

/**
 * Runs `c` under GNU time. `log` receives the command line, then stdout and stderr.
 * `before` runs just before the clock starts (the page-cache drop).
 */
export async function measure(c: Command, log: string, timeoutMs: number, before?: () => void): Promise<Measurement> {
  const timeFile = `${log}.time`;
  writeFileSync(log, `$ ${commandLine(c)}\n`);
  const fd = openSync(log, 'a');
  before?.();
  const t0 = performance.now();
  let timedOut = false;
  const exitCode = await new Promise<number>((resolve, reject) => {
    const child = spawn(TIME_BIN, ['-f', '%e %U %S %M', '-o', timeFile, c.file, ...c.args], {
      cwd: c.cwd,
      env: commandEnv(c.env),
      stdio: ['ignore', fd, fd],
      detached: true, // own process group, so a timeout kills the whole tree
    });
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal !== null ? 128 : 1));
    });
  });
  const wallS = (performance.now() - t0) / 1000;
  closeSync(fd);
  const f0 = performance.now();
  execFileSync('sync');
  const flushS = (performance.now() - f0) / 1000;
  let userS = NaN;
  let sysS = NaN;
  let rssKiB = NaN;
  if (existsSync(timeFile)) {
    const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
    const m = /^([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(lines[lines.length - 1] ?? '');
    if (m) {
      userS = Number(m[2]);
      sysS = Number(m[3]);
      rssKiB = Number(m[4]);
    }
    rmSync(timeFile);
  }
  return { wallS, userS, sysS, cpuS: userS + sysS, maxRssMiB: rssKiB / 1024, flushS, exitCode, timedOut, log };
}

/** Apparent size in bytes of everything below `path` (like `du -sb`), and the number of files. */
export function treeSize(path: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  const walk = (p: string): void => {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) walk(join(p, name));
    } else {
      bytes += st.size;
      files++;
    }
  };
  walk(path);
  return { bytes, files };
}
