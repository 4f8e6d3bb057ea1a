/**
 * Lifeboat's native part (native/lifeboat_fs.c, built by `npm install`): the file-system calls Node lacks
 * on Linux. Times to the nanosecond (utimensat), holes of sparse files (SEEK_DATA/SEEK_HOLE), device nodes
 * and fifos (mknod), and extended attributes of an entry itself, symlinks included (l*xattr). Every call
 * takes a path as a string or as a Buffer of its exact bytes, so names that are not valid UTF-8 work.
 *
 * Loaded on first use, in each thread that uses it. Found beside the sources (src/core/) or beside the
 * bundle (dist/), so both `node bin/lifeboat.js` and the tests find the same build.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { LifeboatError } from './errors.ts';

export type NativePath = string | Buffer;

export interface NativeFs {
  utimens(path: NativePath, atimeSec: number, atimeNsec: number, mtimeSec: number, mtimeNsec: number): void;
  /** The next offset at or after `offset` holding data, or -1 when only a hole follows. */
  seekData(fd: number, offset: number): number;
  /** The next hole at or after `offset` (the end of the file counts as one), or -1 past the end. */
  seekHole(fd: number, offset: number): number;
  mknod(path: NativePath, kind: 'fifo' | 'chardev' | 'blockdev', mode: number, major: number, minor: number): void;
  /** The names, as their bytes. */
  listXattrs(path: NativePath): Buffer[];
  /** undefined when the attribute does not exist. */
  getXattr(path: NativePath, name: string): Buffer | undefined;
  setXattr(path: NativePath, name: string, value: Buffer): void;
  removeXattr(path: NativePath, name: string): void;
  /** glibc's malloc_trim(0): memory freed in its arenas goes back to the system (false elsewhere, or when none). */
  mallocTrim(): boolean;
}

let loaded: NativeFs | undefined;

export function nativeFs(): NativeFs {
  if (loaded) return loaded;
  const candidates = ['../native/build/Release/lifeboat_fs.node', '../../native/build/Release/lifeboat_fs.node'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new LifeboatError('INTERNAL', "Lifeboat's native part (native/build/Release/lifeboat_fs.node) is not built", {
      hint: 'run `npm install` (or `npm rebuild`) in the Lifeboat folder; it needs a C compiler (gcc, make) and Python',
    });
  }
  loaded = createRequire(import.meta.url)(found) as NativeFs;
  return loaded;
}
