/**
 * Running other programs (pg_dump, psql, hook commands): arguments as a list (never a shell unless the
 * caller asks for one), a timeout that kills the whole process group, abort on Ctrl-C, output collected
 * up to a bound so a chatty program cannot exhaust memory.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { LifeboatError } from './errors.ts';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the program's stdin, which is then closed (a stream is piped, with backpressure). Default: stdin is /dev/null. */
  input?: string | Buffer | Readable;
  /** Stdout is piped here (with backpressure) instead of being collected. */
  stdoutTo?: Writable;
  /** Kill the program (and its children) after this many milliseconds. */
  timeoutMs?: number;
  /**
   * On abort or timeout, send SIGTERM first and SIGKILL only after this many milliseconds (default 0:
   * SIGKILL at once). For programs that clean up on SIGTERM: pg_dump and psql cancel their server-side
   * queries, which a SIGKILL leaves waiting for locks on the server.
   */
  stopGraceMs?: number;
  signal?: AbortSignal;
  /** Run as this user and group (root only): the PostgreSQL server tools refuse root. */
  uid?: number;
  gid?: number;
  /** Keep at most this many bytes of stdout / stderr (the end of stderr is kept). Default 64 MiB / 64 KiB. */
  maxStdout?: number;
  maxStderr?: number;
  /** Let stderr through to ours instead of collecting it. */
  inheritStderr?: boolean;
  /** Called with each piece of stdout as it arrives (it is still collected unless maxStdout is 0). */
  onStdout?: (chunk: Buffer) => void;
  /**
   * The program is done when it exits, not when every process holding its output has (a hook that starts
   * `app-restart &` is done when its shell is). What it started in the background goes on; what it
   * wrote after the exit is not collected. A timeout still kills all of it, also what left its process
   * group (setsid), found through /proc.
   */
  doneAtExit?: boolean;
}

export interface RunResult {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
}

/** Run a program to completion. Never rejects for a non-zero exit: the caller decides what failure means. */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const maxOut = opts.maxStdout ?? 64 * 1024 * 1024;
  const maxErr = opts.maxStderr ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', opts.inheritStderr ? 'inherit' : 'pipe'],
      detached: true, // its own process group, so a timeout kills its children too
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    };
    const child = spawn(file, args, so);
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    let timedOut = false;
    let exited = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const hardKill = (): void => {
      if (child.pid === undefined || exited) return;
      // Its descendants first (they may have left its process group), then the group.
      killTree(child.pid, 'SIGKILL');
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const kill = (): void => {
      if (child.pid === undefined || exited) return;
      if (!opts.stopGraceMs) return hardKill();
      if (graceTimer) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      graceTimer = setTimeout(hardKill, opts.stopGraceMs);
    };
    child.once('exit', () => {
      exited = true;
      if (graceTimer) clearTimeout(graceTimer);
    });
    const timer = opts.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), kill()), opts.timeoutMs) : undefined;
    const onAbort = (): void => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.stdoutTo) {
      child.stdout?.pipe(opts.stdoutTo);
    } else {
      child.stdout?.on('data', (b: Buffer) => {
        opts.onStdout?.(b);
        if (outLen < maxOut) {
          out.push(b.subarray(0, maxOut - outLen));
          outLen += Math.min(b.length, maxOut - outLen);
        }
      });
    }
    child.stderr?.on('data', (b: Buffer) => {
      err += b.toString('utf8');
      if (err.length > maxErr) err = err.slice(err.length - maxErr);
    });
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => undefined); // the program may exit without reading its input
      if (typeof opts.input === 'string' || Buffer.isBuffer(opts.input)) child.stdin?.end(opts.input);
      else if (child.stdin) opts.input.pipe(child.stdin);
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(
        new LifeboatError(e.code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot run ${file}: ${e.message}`, {
          cause: e,
          hint: e.code === 'ENOENT' ? `install ${file} or put it on PATH` : undefined,
        }),
      );
    });
    const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ code, signal: sig, stdout: Buffer.concat(out), stderr: err, timedOut });
    };
    if (opts.doneAtExit) {
      child.on('exit', (code, sig) => {
        // What it left running keeps our ends of the pipes open: let go of them.
        child.stdout?.destroy();
        child.stderr?.destroy();
        child.unref();
        finish(code, sig);
      });
    } else {
      child.on('close', finish);
    }
  });
}

/** A process's children (Linux: /proc/PID/task/TID/children); none when it is gone or there is no /proc. */
function childrenOf(pid: number): number[] {
  let kids: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      kids = kids.concat(readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    }
  } catch {
    /* gone already, or no /proc */
  }
  return kids;
}

function signalOne(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone already */
  }
}

/**
 * Send `signal` to a process and its descendants, found through /proc, so what left the process group
 * (setsid) is reached too; what has been re-parented to init is out of reach. For SIGKILL the tree is
 * stopped first, from the top: a shell whose `sleep` is killed before it would otherwise run its next
 * command in the moment between the two kills.
 */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  const tree: number[] = [];
  const walk = (p: number): void => {
    if (signal === 'SIGKILL') signalOne(p, 'SIGSTOP'); // stopped, it forks no more children
    tree.push(p);
    for (const k of childrenOf(p)) walk(k);
  };
  walk(pid);
  for (const p of tree.reverse()) signalOne(p, signal);
}

/** The last non-empty lines of a program's stderr, for an error message (each cut to 300 characters). */
export function stderrTail(stderr: string, lines = 3): string {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l))
    .join(' | ');
}
