/**
 * Exclude patterns (restic's rules): a pattern without `/` matches an entry's name at any depth
 * (`*.tmp`, `node_modules`); a pattern with `/` matches the absolute path (`/srv/cache`, `/home/*\/.cache`),
 * and an excluded directory takes its whole subtree with it. `**` spans folders. Lines of an exclude
 * file are patterns; blank lines and lines starting with `#` are ignored.
 */
import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import { decodeName, fsPath, LifeboatError } from '../../core/index.ts';

export type Excluder = (absPath: string, name: string) => boolean;

export function compileExcludes(patterns: readonly string[]): Excluder {
  const byName: Array<(s: string) => boolean> = [];
  const byPath: Array<(s: string) => boolean> = [];
  for (const raw of patterns) {
    const p = raw.endsWith('/') && raw.length > 1 ? raw.slice(0, -1) : raw;
    if (p === '') continue;
    const m = picomatch(p, { dot: true });
    (p.includes('/') ? byPath : byName).push(m);
  }
  if (byName.length === 0 && byPath.length === 0) return () => false;
  return (absPath, name) => byName.some((m) => m(name)) || byPath.some((m) => m(absPath));
}

export function readExcludeFile(file: string): string[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(fsPath(file));
  } catch (cause) {
    throw new LifeboatError('USAGE', `cannot read exclude file ${file}`, { cause });
  }
  // Lines as bytes: a pattern may name a file whose name is not UTF-8 (escaped as names are, core/fsname).
  const lines: string[] = [];
  for (let at = 0; at <= bytes.length; ) {
    let end = bytes.indexOf(0x0a, at);
    if (end < 0) end = bytes.length;
    lines.push(decodeName(bytes.subarray(at, end)));
    at = end + 1;
  }
  return lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}
