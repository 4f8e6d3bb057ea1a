/**
 * The exit status of every `lifeboat` command, and which error code maps to which status. Scripts and
 * monitoring depend on these numbers: add new ones, never renumber. `lifeboat --help` prints `exitCodeHelp`.
 */
import type { ErrorCode } from '../core/index.ts';

export const ExitCode = {
  ok: 0,
  /** Any error not listed below. */
  fatal: 1,
  /** Bad arguments or options, or a request that makes no sense (e.g. removing the key in use). */
  usage: 2,
  /** The command finished, but not for everything: files unreadable during backup, or failed in restore. */
  partial: 3,
  repoNotFound: 10,
  repoLocked: 11,
  wrongPassword: 12,
  /** An integrity problem was found: `check` reported problems, or data read back failed verification. */
  integrity: 13,
  /** The source could not be reached or refused us: a database connection or login failed. */
  source: 14,
  /** The site daemon: none answers, another already runs on the data folder, or it refused the request. */
  daemon: 15,
  /** Interrupted by SIGINT or SIGTERM (128 + 2, the shell's convention; restic uses it too). */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const byErrorCode: Partial<Record<ErrorCode, ExitCodeValue>> = {
  USAGE: ExitCode.usage,
  REPO_NOT_FOUND: ExitCode.repoNotFound,
  REPO_LOCKED: ExitCode.repoLocked,
  WRONG_PASSWORD: ExitCode.wrongPassword,
  INTEGRITY: ExitCode.integrity,
  CORRUPT: ExitCode.integrity,
  ABORTED: ExitCode.interrupted,
  SOURCE: ExitCode.source,
  DAEMON: ExitCode.daemon,
  CONFIG: ExitCode.usage,
  EXISTS: ExitCode.usage,
  OUT_OF_RANGE: ExitCode.usage,
};

export function exitCodeFor(code: ErrorCode): ExitCodeValue {
  return byErrorCode[code] ?? ExitCode.fatal;
}

/** The EXIT STATUS section of `lifeboat --help`. */
export const exitCodeHelp = `
EXIT STATUS
  0    success
  1    fatal error (anything not listed below)
  2    usage or configuration error; a restore that would overwrite an existing
       table without --replace; a point-in-time target outside the available range
  3    partial success: the backup was saved but some files could not be read,
       or the restore finished but some files failed
  10   the repository does not exist
  11   the repository is locked by another process
  12   wrong password
  13   integrity problem found (by check, or when data read back failed verification)
  14   the source could not be reached: database connection or login failed
  15   the daemon: none answers, another already runs on the data folder, or it refused
       the request (unknown token, too small a role)
  130  interrupted (Ctrl-C or SIGTERM); locks are released, nothing half-written is kept`;
