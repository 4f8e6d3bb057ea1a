/**
 * A quick count of what a backup will look at (files and bytes), for progress bars with an ETA.
 * It walks with the same excludes and one-file-system rule as the archiver, yields to the event loop
 * after each folder so it runs alongside the backup, and fills `totals` as it goes.
 */
import { lstatSync } from 'node:fs';
import { setImmediate as yieldNow } from 'node:timers/promises';
import { fsPath, readdirNames } from '../../core/index.ts';
import { compileExcludes } from './exclude.ts';

export interface ScanTotals {
  files: number;
  bytes: number;
  done: boolean;
}

export async function scanTotals(
  paths: string[],
  opts: { excludes?: string[]; oneFileSystem?: boolean; signal?: AbortSignal; totals?: ScanTotals } = {},
): Promise<ScanTotals> {
  const totals = opts.totals ?? { files: 0, bytes: 0, done: false };
  const exclude = compileExcludes(opts.excludes ?? []);
  const stack: Array<{ path: string; dev: number }> = [];
  for (const p of paths) {
    try {
      const st = lstatSync(fsPath(p));
      if (st.isDirectory()) stack.push({ path: p, dev: st.dev });
      else {
        totals.files++;
        totals.bytes += st.isFile() ? st.size : 0;
      }
    } catch {
      /* the backup reports it */
    }
  }
  while (stack.length) {
    if (opts.signal?.aborted) break;
    const { path, dev } = stack.pop()!;
    let names: string[];
    try {
      names = readdirNames(path);
    } catch {
      continue;
    }
    for (const name of names) {
      const p = path === '/' ? `/${name}` : `${path}/${name}`;
      if (exclude(p, name)) continue;
      try {
        const st = lstatSync(fsPath(p));
        if (st.isDirectory()) {
          if (!opts.oneFileSystem || st.dev === dev) stack.push({ path: p, dev });
        } else {
          totals.files++;
          if (st.isFile()) totals.bytes += st.size;
        }
      } catch {
        /* vanished */
      }
    }
    await yieldNow();
  }
  totals.done = true;
  return totals;
}
