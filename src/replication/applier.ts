/**
 * The hot replica folder: a files member kept equal to one checkpoint of the journal, applied one
 * checkpoint at a time. Each changed file is written beside its place under a temp name and renamed over
 * it, so a reader sees every file whole, old or new; entries the checkpoint does not have are removed;
 * folders get their metadata after what is in them.
 *
 * Between two checkpoints only the folders whose tree ids differ are visited (unchanged subtrees share
 * ids), so an apply costs what changed. The first apply, and the one after an apply that failed, compare
 * the checkpoint with what is on disk instead: whatever a crash left half done (temp files included) is
 * put right.
 *
 * The replica holds the member's paths as restore does: `<replica>/<absolute path at the primary>`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, fsPath, throwIfAborted } from '../core/index.ts';
import { loadTree, validName, type Repository, type Tree, type TreeNode } from '../repo/index.ts';
import { applyMeta, createSpecial, metaEqual, nodeToMeta, readMeta } from '../sources/files/index.ts';

export interface ApplyResult {
  /** Files, links and other entries written (new or changed content). */
  written: number;
  /** Entries whose metadata only was set. */
  touched: number;
  removed: number;
  bytes: number;
  warnings: string[];
}

export interface ApplyOptions {
  /** Set owners (default: when running as root). */
  owner?: boolean;
  signal?: AbortSignal;
}

const TEMP_PREFIX = '.lb-apply-';

/**
 * Makes `target` equal to the tree `to`. `from` is the tree applied last and known to be on disk whole;
 * undefined compares with the disk itself (first apply, or after a failure).
 */
export async function applyTree(repo: Repository, from: string | undefined, to: string, target: string, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const result: ApplyResult = { written: 0, touched: 0, removed: 0, bytes: 0, warnings: [] };
  const owner = opts.owner ?? process.getuid?.() === 0;
  mkdirSync(fsPath(target), { recursive: true, mode: 0o700 });
  await syncDir(repo, from, to, target, { ...opts, owner }, result);
  return result;
}

type Ctx = ApplyOptions & { owner: boolean };

async function syncDir(repo: Repository, from: string | undefined, to: string, dir: string, ctx: Ctx, r: ApplyResult): Promise<void> {
  throwIfAborted(ctx.signal);
  if (from === to) return;
  const next = await loadTree(repo, to, ctx.signal);
  const prev: Tree | undefined = from === undefined ? undefined : await loadTree(repo, from, ctx.signal);
  const before = new Map<string, TreeNode>();
  for (const n of prev?.nodes ?? []) before.set(n.name, n);
  const wanted = new Set<string>();
  for (const n of next.nodes) {
    if (!validName(n.name)) {
      r.warnings.push(`${dir}: an entry named ${JSON.stringify(n.name).slice(0, 80)} is not a file name: skipped`);
      continue;
    }
    wanted.add(n.name);
    await syncEntry(repo, prev ? (before.get(n.name) ?? null) : undefined, n, join(dir, n.name), ctx, r);
  }
  // What the checkpoint no longer has: from the last tree, or (not trusting it) from the disk.
  const gone = prev ? [...before.keys()].filter((name) => !wanted.has(name)) : readdirSync(fsPath(dir)).filter((name) => !wanted.has(name));
  for (const name of gone) {
    rmSync(fsPath(join(dir, name)), { recursive: true, force: true });
    r.removed++;
  }
}

/**
 * One entry. `prev`: its node in the last applied tree (null: it was not there), or undefined when the
 * disk is the reference.
 */
async function syncEntry(repo: Repository, prev: TreeNode | null | undefined, node: TreeNode, path: string, ctx: Ctx, r: ApplyResult): Promise<void> {
  const want = nodeToMeta(node);
  let onDisk: ReturnType<typeof readMeta> | undefined;
  if (prev === undefined && exists(path)) onDisk = readMeta(path);
  const sameType = prev === undefined ? onDisk?.type === node.type : prev?.type === node.type;
  if (node.type === 'dir') {
    if (!sameType) {
      replaceWithDir(path, prev === undefined ? onDisk !== undefined : prev !== null);
      await syncDir(repo, undefined, node.subtree!, path, ctx, r);
    } else {
      await syncDir(repo, prev === undefined ? undefined : prev!.subtree, node.subtree!, path, ctx, r);
    }
    if (prev === undefined ? metaDiffers(want, readMeta(path), ctx) : !sameType || metaChanged(prev!, node) || prev!.subtree !== node.subtree) {
      r.warnings.push(...applyMeta(path, want, { owner: ctx.owner }));
      r.touched++;
    }
    return;
  }
  const contentSame = prev === undefined ? sameType && onDisk !== undefined && !metaDiffers(want, onDisk, ctx) : sameType && sameContent(prev!, node);
  if (contentSame) {
    // For the disk comparison, equal metadata (size and mtime included) is taken as equal content: the
    // applier sets both, and a file changed at the hot site by hand would be a mistake to repair anyway.
    if (prev !== undefined && metaChanged(prev!, node)) {
      r.warnings.push(...applyMeta(path, want, { owner: ctx.owner }));
      r.touched++;
    }
    return;
  }
  await writeEntry(repo, node, path, ctx, r);
}

function sameContent(a: TreeNode, b: TreeNode): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'file') return a.size === b.size && (a.content ?? []).join() === (b.content ?? []).join();
  if (a.type === 'symlink') return a.linktarget === b.linktarget && a.linktarget_raw === b.linktarget_raw;
  return a.dev_major === b.dev_major && a.dev_minor === b.dev_minor;
}

function metaChanged(a: TreeNode, b: TreeNode): boolean {
  return a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.mtime !== b.mtime || JSON.stringify(a.xattrs ?? {}) !== JSON.stringify(b.xattrs ?? {});
}

function metaDiffers(want: ReturnType<typeof nodeToMeta>, have: ReturnType<typeof readMeta>, ctx: Ctx): boolean {
  const diffs = metaEqual(want, have, { owner: ctx.owner });
  // A folder's size is the file system's business.
  return diffs.some((d) => !(want.type === 'dir' && d.startsWith('size')));
}

function exists(path: string): boolean {
  try {
    lstatSync(fsPath(path));
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return false;
    throw err;
  }
}

function replaceWithDir(path: string, somethingThere: boolean): void {
  if (somethingThere) rmSync(fsPath(path), { recursive: true, force: true });
  try {
    mkdirSync(fsPath(path), { mode: 0o700 });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST' || !lstatSync(fsPath(path)).isDirectory()) throw err;
  }
}

/** Writes the entry under a temp name beside `path` and renames it over whatever is there. */
async function writeEntry(repo: Repository, node: TreeNode, path: string, ctx: Ctx, r: ApplyResult): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf('/'));
  const temp = join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
  const meta = nodeToMeta(node);
  try {
    if (node.type === 'file') {
      const fd = openSync(fsPath(temp), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
      try {
        for (const id of node.content ?? []) {
          throwIfAborted(ctx.signal);
          const data = await repo.loadBlob('data', id, ctx.signal);
          let off = 0;
          while (off < data.length) off += writeSync(fd, data, off, data.length - off);
          r.bytes += data.length;
        }
      } finally {
        closeSync(fd);
      }
    } else if (!createSpecial(temp, meta)) {
      return; // a socket: nothing to make
    }
    r.warnings.push(...applyMeta(temp, meta, { owner: ctx.owner }));
    // A folder where a file now goes: rename cannot replace it.
    try {
      if (lstatSync(fsPath(path)).isDirectory()) rmSync(fsPath(path), { recursive: true, force: true });
    } catch {
      // nothing there
    }
    renameSync(fsPath(temp), fsPath(path));
    r.written++;
  } catch (err) {
    rmSync(fsPath(temp), { force: true });
    throw err;
  }
}
