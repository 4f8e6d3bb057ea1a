/**
 * Worker thread entry for MetaPrefetch (prefetch.ts): walks the backup's paths in the archiver's order —
 * breadth-first, folders in the order their turns come, names sorted — and lstats every entry, so the
 * inodes and folder blocks are in the kernel's caches when the archiver's own calls come. It records
 * nothing and answers nothing; the main thread ends it when its walk is over.
 */
import { lstatSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { fsPath, readdirNames, workerInput } from '../../core/index.ts';
import { compileExcludes } from './exclude.ts';

const { paths, excludes, oneFileSystem } = await workerInput<{ paths: string[]; excludes: string[]; oneFileSystem: boolean }>();
const excluded = compileExcludes(excludes);
const rootDevs = new Set<number>();
const queue: string[] = [];

for (const p of paths) {
  try {
    const st = lstatSync(fsPath(p));
    rootDevs.add(st.dev);
    if (st.isDirectory()) queue.push(p);
  } catch {
    /* the archiver reports it */
  }
}
for (let i = 0; i < queue.length; i++) {
  const dir = queue[i]!;
  queue[i] = ''; // done: let the string go
  let names: string[];
  try {
    names = readdirNames(dir);
  } catch {
    continue;
  }
  names.sort();
  for (const name of names) {
    const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
    if (excluded(path, name)) continue;
    try {
      const st = lstatSync(fsPath(path));
      if (st.isDirectory() && (!oneFileSystem || rootDevs.has(st.dev))) queue.push(path);
    } catch {
      /* vanished or unreadable: the archiver reports it */
    }
  }
}
// Done: let the thread end (a worker started ahead of need listens on its port for its input, which would
// keep it, and its heap, alive until the backup ends).
parentPort?.close();
