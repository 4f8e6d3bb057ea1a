/**
 * What every command needs: the global options, a Printer, the abort signal (Ctrl-C), and a way to open
 * the repository with the right password and, where the command reads or writes data, a lock.
 */
import type { Command } from 'commander';
import { LifeboatError } from '../core/index.ts';
import { openLocal } from '../repo/backend/index.ts';
import { Lock, Repository } from '../repo/index.ts';
import type { ExitCodeValue } from './exit-codes.ts';
import { Printer } from './output.ts';
import { readPassword } from './password.ts';

export interface GlobalOptions {
  repo?: string;
  passwordFile?: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  progress: boolean;
}

/** State shared by the whole run; one per process. */
export interface Runtime {
  /** Aborted on the first SIGINT/SIGTERM: long operations stop cleanly and release their locks. */
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  /** Set by a command that finished with a partial result (exit 3) or found problems (exit 13). */
  exitCode: ExitCodeValue;
  /** The reader of stdout went away (EPIPE); the signal is aborted too. */
  stdoutClosed: boolean;
  /** A second SIGINT/SIGTERM does not end the process at once (the daemon, which stops within its own deadline). */
  holdOnRepeatedSignal?: boolean;
}

/** `read`: a shared lock for a command that only reads (saved without the folder's fsync: see Lock.acquire). */
export type LockMode = 'none' | 'read' | 'shared' | 'exclusive';

export class Session {
  readonly rt: Runtime;
  readonly opts: GlobalOptions;
  readonly out: Printer;

  constructor(rt: Runtime, opts: GlobalOptions) {
    this.rt = rt;
    this.opts = opts;
    this.out = new Printer(opts);
  }

  /** The session of a command's action: its options merged with the program's global ones. */
  static of(rt: Runtime, cmd: Command): Session {
    const o = cmd.optsWithGlobals<Partial<GlobalOptions>>();
    return new Session(rt, {
      ...(o.repo !== undefined ? { repo: o.repo } : {}),
      ...(o.passwordFile !== undefined ? { passwordFile: o.passwordFile } : {}),
      json: o.json === true,
      quiet: o.quiet === true,
      verbose: o.verbose === true,
      progress: o.progress !== false,
    });
  }

  get signal(): AbortSignal {
    return this.rt.signal;
  }

  /** Raise the exit status (never lower it: a partial result stays partial). */
  exitWith(code: ExitCodeValue): void {
    if (code > this.rt.exitCode) this.rt.exitCode = code;
  }

  repoPath(): string {
    if (!this.opts.repo) {
      throw new LifeboatError('USAGE', 'no repository given', {
        hint: 'pass -r PATH (or --repo PATH), or set LIFEBOAT_REPOSITORY',
      });
    }
    // `s3:https://host/bucket` must not quietly become a folder named "s3:https:" here.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(this.opts.repo)?.[1];
    if (scheme !== undefined) {
      throw new LifeboatError('USAGE', `repository location ${this.opts.repo}: "${scheme}:" repositories are not supported by this version; a local folder is`, {
        hint: 'give a folder (for a folder whose name has a colon, write it as ./NAME or an absolute path)',
      });
    }
    return this.opts.repo;
  }

  async password(): Promise<string> {
    return readPassword({ passwordFile: this.opts.passwordFile, env: this.rt.env, signal: this.rt.signal });
  }

  /** Open the repository: the folder must exist before we ask for a password. */
  async openRepo(): Promise<Repository> {
    const backend = await openLocal(this.repoPath());
    try {
      const repo = await Repository.open(backend, await this.password(), {
        signal: this.signal,
        onWarning: (message) => this.out.warn(message, { message_type: 'warning', message }),
      });
      this.out.detail(`opened repository ${repo.config.id.slice(0, 8)} at ${backend.location}`);
      return repo;
    } catch (err) {
      await backend.close();
      throw err;
    }
  }

  /**
   * Open, optionally lock, run `fn`, then release and close whatever happens. Commands that read blobs
   * take a shared lock so a concurrent prune cannot pull packs from under them; backup and restore take
   * their own inside the library.
   */
  async withRepo<T>(fn: (repo: Repository) => Promise<T>, opts: { lock?: LockMode; purpose?: string } = {}): Promise<T> {
    const repo = await this.openRepo();
    try {
      const mode = opts.lock ?? 'none';
      const lock = mode === 'none' ? undefined : await Lock.acquire(repo, { exclusive: mode === 'exclusive', readOnly: mode === 'read', ...(opts.purpose ? { purpose: opts.purpose } : {}) });
      try {
        return await fn(repo);
      } finally {
        await lock?.release();
      }
    } finally {
      await repo.backend.close();
    }
  }
}

/** Collects a repeatable option into a list; each value may also be comma-separated (`--tag a,b --tag c`). */
export function collectList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter((s) => s !== '')];
}

/** Collects a repeatable option verbatim (paths and patterns may contain commas). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

