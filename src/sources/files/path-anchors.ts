/**
 * Paths longer than the kernel takes (PATH_MAX, 4,096 bytes) made short enough to use.
 *
 * A tree backed up near that depth restores below a target folder whose own path pushes it over: every
 * system call on the full path fails with ENAMETOOLONG. Node has no *at() calls, so instead a folder part
 * of the way down is opened once (an anchor) and named through `/proc/self/fd/N`, the kernel's link to that
 * open folder: `/proc/self/fd/N/rest` is resolved from the folder itself, whatever its path. Anchors are
 * cut at the same places for every path (greedily from the root), so one folder is opened once, and stay
 * open until `close`: a descriptor number closed and reused would send a path into another folder. Worker
 * threads share the process's descriptors, so they use these paths as they are.
 *
 * An anchor is opened with O_NOFOLLOW: a symlink where a folder should be is never gone through. A path
 * whose anchor cannot be opened (its folder missing, no /proc) is returned whole, and fails where it is
 * used, with the error of that entry.
 */
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { fsPath } from '../../core/index.ts';

/** Paths at least this long (bytes) go through an anchor: below PATH_MAX with room for one more name. */
const SHORT = 3800;

export class PathAnchors {
  readonly #fds = new Map<string, number>();

  /** `full` (absolute), or an equivalent path under PATH_MAX through anchored folders. */
  short(full: string): string {
    if (full.length < SHORT / 3 || Buffer.byteLength(full) < SHORT) return full;
    let via = ''; // the anchor reached so far, as /proc/self/fd/N ('' = the root)
    let rel = ''; // from there to the folder reached so far
    let abs = ''; // that folder's full path
    for (const part of full.split('/')) {
      if (part === '') continue;
      if (rel !== '' && Buffer.byteLength(via) + Buffer.byteLength(rel) + Buffer.byteLength(part) + 1 >= SHORT) {
        const fd = this.#anchor(abs, via + rel);
        if (fd === undefined) return full;
        via = `/proc/self/fd/${fd}`;
        rel = '';
      }
      rel += `/${part}`;
      abs += `/${part}`;
    }
    return via + rel;
  }

  #anchor(abs: string, reach: string): number | undefined {
    let fd = this.#fds.get(abs);
    if (fd === undefined) {
      try {
        fd = openSync(fsPath(reach), fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
      } catch {
        return undefined;
      }
      this.#fds.set(abs, fd);
    }
    return fd;
  }

  /** Close every anchor: after the last use of any path `short` gave. */
  close(): void {
    for (const fd of this.#fds.values()) closeSync(fd);
    this.#fds.clear();
  }
}
