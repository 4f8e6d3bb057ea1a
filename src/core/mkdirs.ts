/**
 * `mkdir -p` that always ends. Node 20's own (`mkdir(path, { recursive: true })`) loops forever, at full
 * CPU, when a folder cannot be made in a parent that exists: `/proc/1/x` fails with ENOENT, so it makes the
 * parent, which exists, and tries again, and again. These make each missing folder once, top down, and
 * report the first failure.
 */
import { mkdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode } from './errors.ts';

export function mkdirsSync(path: string, mode = 0o777): void {
  try {
    mkdirSync(path, { mode });
    return;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return; // the caller checks what it is
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw err;
    mkdirsSync(parent, mode);
  }
  try {
    mkdirSync(path, { mode });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
}

export async function mkdirs(path: string, mode = 0o777): Promise<void> {
  try {
    await mkdir(path, { mode });
    return;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return;
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw err;
    await mkdirs(parent, mode);
  }
  try {
    await mkdir(path, { mode });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
}
