/**
 * Errors that Lifeboat knows how to explain.
 *
 * Every failure a user can meet is a `LifeboatError` with a stable `code` (for scripts and the API),
 * a message that names the thing involved, an optional `hint` naming the next command to run, and the
 * underlying `cause`. Entry points (CLI, daemon) have one error boundary each that renders these; anything
 * else is a bug and is reported as such.
 */

export type ErrorCode =
  | 'USAGE'
  | 'CONFIG'
  | 'WRONG_PASSWORD'
  | 'NO_PASSWORD'
  | 'REPO_EXISTS'
  | 'REPO_NOT_FOUND'
  | 'REPO_VERSION'
  | 'REPO_LOCKED'
  | 'NOT_FOUND'
  | 'AMBIGUOUS'
  | 'INTEGRITY'
  | 'CORRUPT'
  | 'IO'
  | 'UNSAFE_PATH'
  | 'ABORTED'
  | 'BACKEND'
  | 'SOURCE'
  | 'EXISTS'
  | 'OUT_OF_RANGE'
  | 'HOOK'
  /** An address to listen on or a peer to reach: in use, refused, unreachable. */
  | 'NETWORK'
  /** A database took the connection but refused the work (a restore's SQL failed). */
  | 'DATABASE'
  /** The site daemon: none answers, another already runs on the data folder, or it refused the request. */
  | 'DAEMON'
  | 'INTERNAL';

/**
 * What a possible error is about, for messages: the text, or a function that makes it. Hot paths that
 * almost never fail (one call per blob) pass a function, so the text is built only for an error.
 */
export type Subject = string | (() => string);

export function subjectText(s: Subject): string {
  return typeof s === 'string' ? s : s();
}

export interface ErrorDetails {
  hint?: string;
  cause?: unknown;
  /** Structured context, safe to print (never keys or passwords). */
  context?: Record<string, unknown>;
}

export class LifeboatError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'LifeboatError';
    this.code = code;
    this.hint = details.hint;
    this.context = details.context ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, hint: this.hint, ...this.context };
  }
}

/** Data read back does not match what was written: tampering, bit rot, truncation. Never returned as data. */
export class IntegrityError extends LifeboatError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('INTEGRITY', message, {
      hint: details.hint ?? 'run `lifeboat check --read-data` to find every damaged pack and the files it affects',
      ...(details.cause === undefined ? {} : { cause: details.cause }),
      ...(details.context === undefined ? {} : { context: details.context }),
    });
    this.name = 'IntegrityError';
  }
}

export class NotFoundError extends LifeboatError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('NOT_FOUND', message, details);
    this.name = 'NotFoundError';
  }
}

export function isLifeboatError(err: unknown, code?: ErrorCode): err is LifeboatError {
  return err instanceof LifeboatError && (code === undefined || err.code === code);
}

/** The errno code of a Node system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

export function abortError(signal?: AbortSignal): LifeboatError {
  return new LifeboatError('ABORTED', 'operation aborted', { cause: signal?.reason });
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortError(signal);
}
