/**
 * The small JSON state files of discovery (live sites and epochs, what a publisher last wrote): written
 * whole to a temp file, synced, then renamed over the old one, so a crash leaves the old or the new state,
 * never half of one, and an epoch once written is not lost.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
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

/** Remove the temp files a writer killed before its rename left beside `file` (their process is gone). */
export function removeStaleTemps(file: string): void {
  let names: string[];
  try {
    names = readdirSync(dirname(file));
  } catch {
    return;
  }
  const prefix = `${basename(file)}.tmp-`;
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length));
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      continue; // that writer is alive
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPERM') continue;
    }
    rmSync(join(dirname(file), n), { force: true });
  }
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
