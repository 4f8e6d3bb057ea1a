/**
 * Reading lifeboat.yaml from disk, safely against whatever the path turns out to be. The daemon reads it
 * again on SIGHUP, on its main thread, so a path swapped for a FIFO (whose read waits for a writer,
 * forever), a device (/dev/zero reads without end) or a huge file must be refused at once, not read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { LifeboatError } from '../core/index.ts';

/**
 * The largest configuration read, in bytes. A real one is a few KiB (a group is ~10 lines); 1 MiB holds
 * thousands of groups. The cap bounds the time the parse holds the daemon's main thread: 1 MiB of 24,500
 * one-line groups took 0.4-0.5 s on a quiet 2-core machine, 2-3 s on the same machine under load (2026-12;
 * ~90 % of it yaml's own parser), and growing linearly with the size.
 */
export const maxConfigBytes = 1024 * 1024;

const hint = 'give it with --config FILE or LIFEBOAT_CONFIG';

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

function check(file: string, st: Stats): void {
  if (!st.isFile()) {
    throw new LifeboatError('CONFIG', `cannot read the configuration ${file}: it is ${kind(st)}, not a regular file`, { hint: `${hint}; it must be a regular file (a symlink to one is fine)`, context: { file } });
  }
  if (st.size > maxConfigBytes) tooLarge(file, st.size);
}

function tooLarge(file: string, size: number | undefined): never {
  const cap = `${maxConfigBytes} bytes (1 MiB)`;
  throw new LifeboatError('CONFIG', `cannot read the configuration ${file}: ${size !== undefined ? `it is ${size} bytes` : 'it grew while read'}, more than the limit of ${cap}`, { hint: `a configuration is a few KiB; check that ${file} is the right file`, context: { file } });
}

/**
 * The text of the configuration file `file`. Refused with a CONFIG error: a path that is not a regular
 * file (checked before opening, so no device is opened, and again on the open descriptor, in case the
 * path was swapped between the two), and a file over `maxConfigBytes`. Opened non-blocking, so even a
 * FIFO swapped in at the last moment does not block the open.
 */
export function readConfigText(file: string): string {
  let fd: number | undefined;
  try {
    check(file, statSync(file));
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    const st = fstatSync(fd);
    check(file, st);
    // Read to the end, one byte past the cap at most: the file may have grown since the fstat.
    let buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxConfigBytes) tooLarge(file, undefined);
        const bigger = Buffer.allocUnsafe(maxConfigBytes + 1);
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.toString('utf8', 0, n);
  } catch (err) {
    if (err instanceof LifeboatError) throw err;
    throw new LifeboatError('CONFIG', `cannot read the configuration ${file}: ${(err as Error).message}`, { hint, cause: err, context: { file } });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
