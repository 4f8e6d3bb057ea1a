/**
 * The small JSON state files of discovery (live sites and epochs, what a publisher last wrote): written
 * whole to a temp file, synced, then renamed over the old one, so a crash leaves the old or the new state,
 * never half of one, and an epoch once written is not lost.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { mkdirsSync } from '../core/index.ts';

export function writeState(file: string, value: unknown): void {
  mkdirsSync(dirname(file), 0o700);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(value, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** The state in `file`, or `fallback` when there is none (or it cannot be read). */
export function readState<T>(file: string | undefined, fallback: T): T {
  if (!file) return fallback;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return fallback;
  }
}
