/** Helpers to build and compare file trees in tests. */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsPath, nativeFs, readdirNames } from '../../src/core/index.ts';
import { metaEqual, readMeta } from '../../src/sources/files/index.ts';

/** Deterministic pseudo-random bytes (so dedup tests are repeatable). */
export function seededBytes(seed: string, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let off = 0;
  let i = 0;
  while (off < n) {
    const block = createHash('sha512').update(`${seed}:${i++}`).digest();
    off += block.copy(out, off);
  }
  return out;
}

export function randomText(n: number): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'backup', 'restore', 'lifeboat', 'table', 'row', 'commit', '\n'];
  const parts: string[] = [];
  let len = 0;
  const r = randomBytes(n);
  for (let i = 0; len < n; i++) {
    const w = words[r[i % r.length]! % words.length]!;
    parts.push(w, ' ');
    len += w.length + 1;
  }
  return Buffer.from(parts.join('').slice(0, n));
}

export function setXattr(path: string, name: string, value: string | Buffer): void {
  nativeFs().setXattr(path, name, Buffer.from(value));
}

export function getXattr(path: string, name: string): Buffer | undefined {
  return nativeFs().getXattr(path, name);
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

/** Every entry below `root` (relative paths, bytes that are not UTF-8 escaped as Lifeboat does), sorted. */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirNames(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      if (lstatSync(fsPath(join(root, r))).isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

/**
 * Differences between two trees in everything a restore must keep: entries, types, modes, owners,
 * mtimes, xattrs, link targets, device numbers, file bytes, and hard-link structure. Empty = equal.
 */
export function compareTrees(a: string, b: string, opts: { owner?: boolean; ignore?: (rel: string) => boolean } = {}): string[] {
  const diffs: string[] = [];
  const ea = listTree(a).filter((r) => !opts.ignore?.(r));
  const eb = listTree(b).filter((r) => !opts.ignore?.(r));
  const sb = new Set(eb);
  for (const r of ea) if (!sb.has(r)) diffs.push(`missing: ${r}`);
  const sa = new Set(ea);
  for (const r of eb) if (!sa.has(r)) diffs.push(`extra: ${r}`);
  const inodesA = new Map<string, string>();
  const inodesB = new Map<string, string>();
  for (const r of ea) {
    if (!sb.has(r)) continue;
    const pa = join(a, r);
    const pb = join(b, r);
    const ma = readMeta(pa);
    const mb = readMeta(pb);
    for (const d of metaEqual(ma, mb, { owner: opts.owner ?? true })) diffs.push(`${r}: ${d}`);
    if (ma.type === 'file' && mb.type === 'file') {
      if (!readFileSync(fsPath(pa)).equals(readFileSync(fsPath(pb)))) diffs.push(`${r}: content differs`);
      if (ma.nlink > 1) {
        const ka = `${ma.dev}:${ma.inode}`;
        const kb = `${mb.dev}:${mb.inode}`;
        if (!inodesA.has(ka)) inodesA.set(ka, r);
        if (!inodesB.has(kb)) inodesB.set(kb, r);
        if (inodesA.get(ka) !== inodesB.get(kb)) diffs.push(`${r}: hard link structure differs`);
        if (mb.nlink !== ma.nlink) diffs.push(`${r}: link count ${ma.nlink} != ${mb.nlink}`);
      }
    }
  }
  return diffs;
}
