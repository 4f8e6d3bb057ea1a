/**
 * The files source's restore: a snapshot (or the parts of it named by `include`) into a target folder.
 *
 * Plan, then write:
 *   1. walk the trees, refusing unsafe entries (names `..`, `/`, duplicates, children under a non-folder);
 *   2. create folders, symlinks, fifos and devices; create every file empty;
 *   3. read the needed packs once each, in pack order, a few at a time: one ranged read per pack covers all
 *      its needed blobs, each blob is verified and written at its offsets in every file that uses it
 *      (all-zero chunks are skipped, leaving holes, so sparse files stay sparse);
 *   4. file metadata, hard links, then folder metadata deepest first (creating children changes a folder's
 *      mtime, and its mode may forbid writing).
 * Nothing is ever written outside `target`: every path is `target` plus validated names, every folder is
 * created by us or checked to be a real folder (never a symlink) before anything is created inside it, and
 * files are opened with O_NOFOLLOW | O_EXCL after removing whatever was at their name.
 * A damaged blob fails only the files that use it; the rest restore.
 */
import { closeSync, constants as fsc, linkSync, lstatSync, mkdirSync, openSync, readSync, realpathSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { posix, resolve as resolvePath } from 'node:path';
import { setImmediate as yieldNow } from 'node:timers/promises';
import { defaults, errnoCode, fsPath, IntegrityError, LifeboatError, mkdirsSync, RangeBuffers, readdirNames, throwIfAborted } from '../../core/index.ts';
import { blobId, Lock, loadTree, nodeProblem, PackReaders, validName, type BlobLocation, type Repository, type SnapshotEntry, type Tree, type TreeNode } from '../../repo/index.ts';
import { compileExcludes, type Excluder } from './exclude.ts';
import { applyMeta, createSpecial } from './fsmeta.ts';
import { nodeToMeta } from './node.ts';
import { PathAnchors } from './path-anchors.ts';
import { runInLanes } from './lanes.ts';
import { RestorePool } from './restore-pool.ts';
import type { PackJob } from './restore-work.ts';

export interface RestoreOptions {
  target: string;
  /** Refuse a target that is a symbolic link (a restore on someone else's behalf, into a folder others can write). */
  noFollowTarget?: boolean;
  /** Absolute snapshot paths to restore (with everything below them); default: everything. */
  include?: string[];
  /** Re-read every restored file and compare it with the snapshot. */
  verify?: boolean;
  /**
   * Remove entries in the target that the snapshot does not have: turns a restore over a damaged tree into
   * an exact rollback to the snapshot. Only inside the snapshot's backed-up paths (and the `include` paths
   * within them), never in a folder the snapshot marks incomplete, and never an entry the backup excluded.
   */
  delete?: boolean;
  /**
   * A folder of the snapshot whose contents are written straight into `target` (a PostgreSQL data
   * directory restored as the target itself). Only what is below it is restored.
   */
  strip?: string;
  /** Restore owners (default: when running as root). */
  owner?: boolean;
  /** Worker threads decoding and writing (0 = on this thread). Default: one per core. */
  workers?: number;
  signal?: AbortSignal;
  progress?: RestoreProgress;
  onWarning?: (w: RestoreWarning) => void;
}

export interface RestoreProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
  errors: number;
}

export interface RestoreWarning {
  path: string;
  kind: 'unsafe' | 'damaged' | 'metadata' | 'io' | 'verify';
  message: string;
}

export interface RestoreResult {
  files: number;
  dirs: number;
  bytes: number;
  /** Entries removed by `delete`. */
  removed: number;
  warnings: RestoreWarning[];
  verified?: number;
}

/**
 * A file to restore. One per file of the snapshot, all alive for the whole restore, so it is kept small:
 * 100,000 tiny files held ~170 MiB of planning on the main thread (bench, 2026-11-30). Its path is made
 * when needed from the folder's (shared) path and the node's name; its fields are all set at creation, so
 * every one has the same shape; single-chunk files share one offsets array.
 */
class PlannedFile {
  /** Chunk writes not yet done; at 0 the file is finished at once (`#finishFile`). */
  pending = 0;
  done = false;
  failed = false;
  /** Its name in the target is ours: its folder checked, whatever stood there removed (so a failure may remove it). */
  created = false;
  linkOf: PlannedFile | undefined = undefined;

  constructor(
    /** The folder's snapshot path ('' for the root). */
    readonly parent: string,
    readonly node: TreeNode,
    /** Offset of each chunk in the file. */
    readonly offsets: readonly number[],
    /** Full size from the chunks' lengths (the chunk that ends the file sets it). */
    readonly size: number,
  ) {}

  get path(): string {
    return `${this.parent}/${this.node.name}`;
  }
}

const ONE_CHUNK: readonly number[] = Object.freeze([0]);

/** One use of a blob: chunk `i` of `file`. */
interface BlobUse {
  file: PlannedFile;
  i: number;
}

interface PlannedDir {
  path: string;
  node: TreeNode;
  depth: number;
  /** Names the snapshot has in this folder, when the whole folder is restored (for `delete`). */
  names?: Set<string>;
  /**
   * A real folder in the target: made by this restore or found to be one, below folders that are. Only
   * these get their metadata or have entries removed: a path through a folder that could not be placed
   * (a symlink left in the target) would lead outside it.
   */
  placed?: boolean;
}

export function newRestoreProgress(): RestoreProgress {
  return { files: 0, totalFiles: 0, bytes: 0, totalBytes: 0, errors: 0 };
}

export async function restoreFiles(repo: Repository, snap: SnapshotEntry, opts: RestoreOptions): Promise<RestoreResult> {
  const signal = opts.signal ? { signal: opts.signal } : {};
  // The index loads while the lock is written (its fsyncs were ~50 ms of a cold restore here, 2026-11-30;
  // a reader's lock now skips the folder's). Once the lock holds, refreshIndex makes sure what was loaded
  // is still the index.
  const indexLoad = repo.loadIndex(signal);
  indexLoad.catch(() => undefined); // awaited below
  let lock: Lock;
  try {
    lock = await Lock.acquire(repo, { exclusive: false, purpose: 'restore', readOnly: true });
  } catch (err) {
    await indexLoad.catch(() => undefined);
    throw err;
  }
  // The workers start now: they take ~0.3 s each to boot on the project machine, which now overlaps loading
  // the index and planning instead of following them (restore of one 256 MiB file, 2026-11-30).
  const pool = new RestorePool(repo.master, opts.workers === undefined ? {} : { workers: opts.workers });
  // An abort reaches the workers too: each stops between blobs instead of finishing its range (one range of
  // small files is thousands of files).
  const stopPool = (): void => pool.stop();
  opts.signal?.addEventListener('abort', stopPool, { once: true });
  try {
    try {
      await indexLoad;
    } catch (err) {
      // An index file removed under it (a prune that finished before the lock held): refreshIndex loads
      // what is there now.
      if (!(err instanceof LifeboatError && err.code === 'NOT_FOUND')) throw err;
    }
    await repo.refreshIndex(signal);
    return await new Restorer(repo, opts, pool).run(snap);
  } finally {
    opts.signal?.removeEventListener('abort', stopPool);
    await pool.close();
    await lock.release();
  }
}

function selected(path: string, includes: string[] | undefined): 'all' | 'ancestor' | 'no' {
  if (!includes || includes.length === 0) return 'all';
  let anc = false;
  for (const inc of includes) {
    if (path === inc || path.startsWith(inc === '/' ? '/' : inc + '/')) return 'all';
    if (inc.startsWith(path + '/')) anc = true;
  }
  return anc ? 'ancestor' : 'no';
}

class Restorer {
  readonly #repo: Repository;
  readonly #opts: RestoreOptions;
  readonly #target: string;
  readonly #strip: string | undefined;
  readonly #owner: boolean;
  readonly warnings: RestoreWarning[] = [];
  readonly #dirs: PlannedDir[] = [];
  readonly #files: PlannedFile[] = [];
  readonly #others: Array<{ path: string; node: TreeNode }> = [];
  readonly #progress: RestoreProgress;
  /** Folders this restore created (empty when made): nothing needs clearing inside them. */
  readonly #fresh = new Set<string>();
  /** Folders above the backed-up paths that are symlinks in the target, kept (see #keepLink). */
  readonly #linked = new Set<string>();
  /** Names at the snapshot root, when the whole snapshot is restored (for `delete`). */
  #rootNames: Set<string> | undefined;
  /** The snapshot's backed-up paths: `delete` removes nothing outside them. */
  #roots: string[] = [];
  /** The snapshot's exclude patterns: `delete` spares what they match (the backup never held it). */
  #excluded: Excluder = () => false;
  /** The include paths, and those found in the snapshot. */
  #wanted = new Set<string>();
  readonly #matched = new Set<string>();
  /** Folders whose tree could not be read. */
  readonly #damagedFolders: string[] = [];
  #removed = 0;
  /** Symlinks, fifos and devices made. */
  #othersMade = 0;

  readonly #pool: RestorePool;
  readonly #anchors = new PathAnchors();

  constructor(repo: Repository, opts: RestoreOptions, pool: RestorePool) {
    this.#pool = pool;
    this.#repo = repo;
    this.#opts = opts;
    this.#target = resolvePath(opts.target);
    this.#strip = opts.strip === undefined || opts.strip === '/' ? undefined : opts.strip.replace(/\/+$/, '');
    this.#owner = opts.owner ?? process.getuid?.() === 0;
    this.#progress = opts.progress ?? newRestoreProgress();
  }

  #warn(w: RestoreWarning): void {
    this.warnings.push(w);
    this.#progress.errors++;
    this.#opts.onWarning?.(w);
  }

  /** Where a snapshot path goes in the target (through an anchored folder when the path is too long). */
  #out(snapPath: string): string {
    if (this.#strip !== undefined) return snapPath === this.#strip ? this.#target : this.#anchors.short(this.#target + snapPath.slice(this.#strip.length));
    return snapPath === '/' ? this.#target : this.#anchors.short(this.#target + snapPath);
  }

  async run(snap: SnapshotEntry): Promise<RestoreResult> {
    try {
      return await this.#run(snap);
    } finally {
      this.#anchors.close();
    }
  }

  async #run(snap: SnapshotEntry): Promise<RestoreResult> {
    if (this.#opts.include?.some((p) => !p.startsWith('/'))) {
      throw new LifeboatError('USAGE', '--include takes absolute paths as they were backed up, e.g. /srv/share/report.odt', {
        hint: '`lifeboat ls SNAPSHOT` shows the paths in a snapshot',
      });
    }
    let includes = this.#opts.include?.map((p) => posix.normalize(p).replace(/(.)\/+$/, '$1'));
    const strip = this.#strip;
    if (strip !== undefined) {
      if (!strip.startsWith('/')) throw new LifeboatError('USAGE', `strip takes an absolute snapshot path, not ${strip}`);
      includes = includes?.length ? includes.filter((p) => p === strip || p.startsWith(strip + '/')) : [strip];
      if (includes.length === 0) throw new LifeboatError('USAGE', `nothing to restore: every --include lies outside ${strip}`);
    }
    this.#roots = snap.paths.map((p) => (p.length > 1 ? p.replace(/\/+$/, '') : p));
    this.#excluded = compileExcludes(snap.excludes ?? []);
    this.#wanted = new Set(includes ?? []);
    this.#rootNames = await this.#plan(snap.tree, '', 0, includes);
    // Every include must name something: a typo must not pass for a restore of nothing.
    const unmatched = (includes ?? []).filter((p) => p !== '/' && !this.#matched.has(p));
    const lost = unmatched.filter((p) => this.#damagedFolders.some((f) => p.startsWith(f + '/')));
    if (lost.length > 0) {
      throw new IntegrityError(`${lost.join(', ')} lie${lost.length === 1 ? 's' : ''} in a folder of snapshot ${snap.short_id} whose contents cannot be read`, {
        context: { paths: lost, folders: this.#damagedFolders },
      });
    }
    if (unmatched.length > 0) {
      throw new LifeboatError('NOT_FOUND', `nothing in snapshot ${snap.short_id} matches ${unmatched.join(', ')}`, {
        hint: '`lifeboat ls SNAPSHOT` shows the paths in a snapshot; --include takes them as they were backed up',
        context: { unmatched },
      });
    }
    this.#createTarget();
    await this.#createEntries();
    await this.#writeContents();
    await this.#finishFiles();
    if (this.#opts.delete) this.#deleteExtras();
    await this.#finishDirs();
    let verified: number | undefined;
    if (this.#opts.verify) verified = await this.#verify();
    return {
      files: this.#files.filter((f) => !f.failed).length + this.#othersMade,
      dirs: this.#dirs.length,
      bytes: this.#progress.bytes,
      removed: this.#removed,
      warnings: this.warnings,
      ...(verified !== undefined ? { verified } : {}),
    };
  }

  /** Plans one folder; returns the names it holds when it is restored whole (undefined otherwise). */
  async #plan(treeId: string, prefix: string, depth: number, includes: string[] | undefined): Promise<Set<string> | undefined> {
    throwIfAborted(this.#opts.signal);
    let tree: Tree;
    try {
      tree = await loadTree(this.#repo, treeId, this.#opts.signal);
    } catch (err) {
      // A damaged folder below the root loses what is in it, not the rest of the restore.
      if (depth === 0 || !(err instanceof LifeboatError && (err.code === 'INTEGRITY' || err.code === 'CORRUPT'))) throw err;
      this.#warn({ path: prefix, kind: 'damaged', message: `the folder's contents cannot be read: ${err.message}` });
      this.#damagedFolders.push(prefix);
      return undefined;
    }
    const seen = new Set<string>();
    for (const node of tree.nodes) {
      const named = validName((node as TreeNode | null)?.name);
      const path = `${prefix}/${named ? node.name : '?'}`;
      const sel = named ? selected(path, includes) : 'all';
      if (sel === 'no') continue;
      if (named && seen.has(node.name)) {
        this.#warn({ path, kind: 'unsafe', message: 'refused: a second entry with the same name in one folder' });
        continue;
      }
      // A refused entry's name still counts as held by the snapshot: `delete` leaves it alone.
      if (named) seen.add(node.name);
      const problem = nodeProblem(node);
      if (problem !== undefined) {
        this.#warn({ path: named ? path : prefix || '/', kind: 'unsafe', message: `refused: ${problem}` });
        continue;
      }
      if (this.#wanted.has(path)) this.#matched.add(path);
      if (node.type === 'dir') {
        const d: PlannedDir = { path, node, depth };
        // Folders above the stripped one are not restored: its contents go straight into the target.
        const above = this.#strip !== undefined && this.#strip.startsWith(path + '/');
        if (!above) this.#dirs.push(d);
        if (node.subtree) {
          const names = await this.#plan(node.subtree, path, depth + 1, sel === 'all' ? undefined : includes);
          if (names && node.incomplete !== true) d.names = names;
        }
        continue;
      }
      if (sel === 'ancestor') continue;
      if (node.type === 'file') {
        const content = node.content ?? [];
        const index = this.#repo.index;
        // A chunk no index file names may be in a pack whose index file is lost: its header says (once).
        if (content.some((id) => !index.has(id))) await this.#repo.indexUnindexedPacks(this.#opts.signal ? { signal: this.#opts.signal } : {});
        let off = 0;
        const offsets = content.map((id) => {
          const at = off;
          off += index.rawLength(id) ?? 0;
          return at;
        });
        this.#files.push(new PlannedFile(prefix, node, offsets.length === 1 ? ONE_CHUNK : offsets, off));
        this.#progress.totalFiles++;
        this.#progress.totalBytes += node.size ?? 0;
      } else {
        this.#others.push({ path, node });
      }
    }
    // Kept for `delete` only: a Set per folder otherwise held ~4 MiB per 10,000 folders for nothing.
    // A folder above the backed-up paths holds only the way down to them, never a complete listing.
    return this.#opts.delete && (includes === undefined || includes.length === 0) && this.#backedUp(prefix || '/') ? seen : undefined;
  }

  /** At or below one of the snapshot's backed-up paths. */
  #backedUp(path: string): boolean {
    return this.#roots.some((r) => r === '/' || path === r || path.startsWith(r + '/'));
  }

  /** Remove what the snapshot does not have from every folder restored whole. Never follows a symlink. */
  #deleteExtras(): void {
    const folders: Array<{ path: string; names: Set<string> }> = this.#dirs.flatMap((d) => (d.names && d.placed ? [{ path: d.path, names: d.names }] : []));
    if (this.#rootNames) folders.unshift({ path: '/', names: this.#rootNames });
    for (const f of folders) {
      const out = this.#out(f.path);
      let present: string[];
      try {
        if (!lstatSync(fsPath(out)).isDirectory()) continue;
        present = readdirNames(out);
      } catch {
        continue;
      }
      for (const name of present) {
        if (f.names.has(name)) continue;
        const path = f.path === '/' ? `/${name}` : `${f.path}/${name}`;
        if (this.#excluded(path, name)) continue;
        try {
          rmSync(fsPath(`${out}/${name}`), { recursive: true, force: true });
          this.#removed++;
        } catch (err) {
          this.#warn({ path, kind: 'io', message: (err as Error).message });
        }
      }
    }
  }

  #createTarget(): void {
    try {
      mkdirsSync(this.#target, 0o700);
    } catch (err) {
      throw new LifeboatError('IO', `cannot create restore target ${this.#target}: ${(err as Error).message}`, { cause: err });
    }
    if (this.#opts.noFollowTarget && lstatSync(this.#target).isSymbolicLink()) {
      throw new LifeboatError('UNSAFE_PATH', `restore target ${this.#target} is a symbolic link`, { hint: 'restore into a real folder' });
    }
    // The target is the user's choice: a symlink to a folder is that folder.
    let st;
    try {
      st = statSync(this.#target);
    } catch (err) {
      throw new LifeboatError('USAGE', `restore target ${this.#target} cannot be used: ${(err as Error).message}`, { cause: err, hint: 'give a folder (it is created when missing); a symbolic link must lead to one' });
    }
    if (!st.isDirectory()) {
      throw new LifeboatError('USAGE', `restore target ${this.#target} is not a folder`, { hint: 'give a folder (it is created when missing)' });
    }
  }

  /**
   * A symlink in the target where the snapshot has a folder above its backed-up paths (`/bin -> usr/bin` on
   * a system the snapshot of `/bin/true` is restored into): kept, and gone through, when it leads to a folder
   * inside the target, so restoring in place does not tear the system's layout apart. The snapshot only
   * says the way down was a folder, not what it was. Anywhere else, or leading outside, it is replaced.
   */
  #keepLink(path: string, out: string): boolean {
    if (this.#backedUp(path)) return false;
    try {
      const real = realpathSync(fsPath(out), { encoding: 'buffer' });
      const root = realpathSync(this.#target, { encoding: 'buffer' });
      const inside = real.length > root.length && real.subarray(0, root.length).equals(root) && (root.length === 1 || real[root.length] === 0x2f);
      if (!inside || !lstatSync(real).isDirectory()) return false;
    } catch {
      return false;
    }
    this.#linked.add(path);
    return true;
  }

  /** A folder we are about to create something in must be a real folder (not a symlink to elsewhere). */
  #checkParent(path: string): boolean {
    if (path === this.#strip) return true; // the target itself, checked by #createTarget
    const parent = parentOf(path);
    if (this.#fresh.has(parent) || this.#linked.has(parent)) return true; // made by this restore, or a link kept, checked then
    if (parent === '/' && this.#strip === undefined) return true; // the target itself, checked by #createTarget
    const real = this.#out(parent);
    try {
      if (lstatSync(fsPath(real)).isDirectory()) return true;
    } catch (err) {
      // Missing (its creation failed and was reported) or unreachable (a path too long, say).
      if (errnoCode(err) !== 'ENOENT') {
        this.#warn({ path, kind: 'io', message: `cannot reach ${parent} in the target: ${(err as Error).message}` });
        return false;
      }
    }
    this.#warn({ path, kind: 'unsafe', message: `refused: ${parent} is not a folder in the target` });
    return false;
  }

  /** Remove whatever is at `out` unless it is a folder (a restore replaces files, links and specials). */
  /**
   * Remove whatever is at `out` to make room for a file, link or special (never following it). A folder is
   * not removed: what is in it is not the snapshot's to discard.
   */
  #clear(out: string): void {
    const p = fsPath(out);
    let st;
    try {
      st = lstatSync(p);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    if (st.isDirectory()) throw new LifeboatError('IO', 'a folder stands where the snapshot has no folder; it is left as it is');
    unlinkSync(p);
  }

  async #createEntries(): Promise<void> {
    let n = 0;
    for (const d of this.#dirs) {
      if (++n % breatheEvery === 0) await breathe(this.#opts.signal);
      if (!this.#checkParent(d.path)) continue;
      const out = this.#out(d.path);
      try {
        mkdirSync(fsPath(out), { mode: 0o700 });
        this.#fresh.add(d.path);
        d.placed = true;
      } catch (err) {
        try {
          if (errnoCode(err) !== 'EEXIST') throw err;
          if (!lstatSync(fsPath(out)).isDirectory()) {
            if (this.#keepLink(d.path, out)) continue;
            // Something else stands where the snapshot has a folder: replace it (never follow it).
            unlinkSync(fsPath(out));
            mkdirSync(fsPath(out), { mode: 0o700 });
          }
          d.placed = true;
        } catch (e) {
          this.#warn({ path: d.path, kind: 'io', message: (e as Error).message });
        }
      }
    }
    for (const o of this.#others) {
      if (++n % breatheEvery === 0) await breathe(this.#opts.signal);
      if (!this.#checkParent(o.path)) continue;
      const out = this.#out(o.path);
      try {
        this.#clear(out);
        if (createSpecial(out, nodeToMeta(o.node))) {
          this.#meta(o.path, o.node);
          this.#othersMade++;
        }
      } catch (err) {
        this.#warn({ path: o.path, kind: 'io', message: (err as Error).message });
      }
    }
    const firstByInode = new Map<string, PlannedFile>();
    for (const f of this.#files) {
      if (++n % breatheEvery === 0) await breathe(this.#opts.signal);
      if (!this.#checkParent(f.path)) {
        f.failed = true;
        continue;
      }
      if ((f.node.links ?? 1) > 1 && f.node.inode !== undefined) {
        const key = `${f.node.device_id ?? 0}:${f.node.inode}`;
        const first = firstByInode.get(key);
        if (first) {
          f.linkOf = first;
          continue;
        }
        firstByInode.set(key, f);
      }
      const out = this.#out(f.path);
      try {
        // In a folder this restore made, nothing stands at the name; elsewhere, clear it (never follow it).
        if (!this.#fresh.has(parentOf(f.path))) this.#clear(out);
        f.created = true;
        // Files with content are created by the writers; empty ones here.
        if (f.offsets.length === 0) closeSync(openSync(fsPath(out), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600));
      } catch (err) {
        f.failed = true;
        this.#warn({ path: f.path, kind: 'io', message: (err as Error).message });
      }
    }
  }

  async #writeContents(): Promise<void> {
    // blob id → every (file, chunk index) that needs it; grouped by pack.
    const byPack = new Map<string, Map<string, BlobUse[]>>();
    for (const f of this.#files) {
      if (f.failed || f.linkOf) continue;
      f.pending = f.node.content?.length ?? 0;
      f.node.content?.forEach((id, i) => {
        const loc = this.#repo.index.get(id);
        if (!loc) {
          this.#failFile(f, `chunk ${id} is missing from the repository`);
          return;
        }
        let blobs = byPack.get(loc.pack);
        if (!blobs) byPack.set(loc.pack, (blobs = new Map()));
        // A literal holds exactly one use; `[]` then push reserved 17 (most blobs have one use).
        const uses = blobs.get(id);
        if (uses) uses.push({ file: f, i });
        else blobs.set(id, [{ file: f, i }]);
      });
    }
    const pool = this.#pool;
    // Packs in name order (the order a listing gives), each read once, front to back, in ranged reads of
    // at most defaults.restoreReadSize covering its needed blobs, while the workers decode and write the
    // ranges read before.
    // Each read names its blobs by id; their locations are looked up when it runs (one object per blob
    // for the whole restore otherwise: ~8 MiB per 100,000 blobs).
    const index = this.#repo.index;
    const reads: Array<{ pack: string; ids: string[] }> = [];
    for (const pack of [...byPack.keys()].sort()) {
      const locs = [...byPack.get(pack)!.keys()].map((id) => index.get(id)!).sort((a, b) => a.offset - b.offset);
      let group: string[] = [];
      let groupStart = 0;
      for (const l of locs) {
        if (group.length > 0 && l.offset + l.length - groupStart > defaults.restoreReadSize) {
          reads.push({ pack, ids: group });
          group = [];
        }
        if (group.length === 0) groupStart = l.offset;
        group.push(l.id);
      }
      reads.push({ pack, ids: group });
    }
    const packs = new PackReaders(this.#repo.backend);
    try {
      await this.#readAll(reads, byPack, packs);
    } finally {
      await packs.close();
    }
    await pool.closeFiles();
  }

  async #readAll(reads: Array<{ pack: string; ids: string[] }>, byPack: Map<string, Map<string, BlobUse[]>>, packs: PackReaders): Promise<void> {
    const pool = this.#pool;
    const index = this.#repo.index;
    // One buffer per job in flight, used for range after range (see RangeBuffers).
    const buffers = new RangeBuffers(pool.lanes * pool.perLane, defaults.restoreReadSize);
    await runInLanes(reads, pool.lanes, pool.perLane, async ({ pack, ids }, lane) => {
      throwIfAborted(this.#opts.signal);
      const locs = ids.map((id) => index.get(id)!);
      const start = locs[0]!.offset;
      let end = 0;
      for (const l of locs) end = Math.max(end, l.offset + l.length);
      const slot = await buffers.acquire(end - start);
      try {
        await this.#readOne(pack, locs, end - start, lane, byPack.get(pack)!, packs, slot);
      } finally {
        buffers.release(slot);
      }
    });
  }

  /** Read one range of a pack (its blobs `locs`, in offset order) into `into`, and have a worker decode and write them. */
  async #readOne(pack: string, locs: BlobLocation[], length: number, lane: number, blobs: Map<string, BlobUse[]>, packs: PackReaders, into: Buffer): Promise<void> {
    const pool = this.#pool;
    const start = locs[0]!.offset;
    let bytes: Buffer;
    try {
      bytes = await packs.read(pack, start, length, this.#opts.signal, into);
    } catch (err) {
      if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
      for (const l of locs) for (const u of blobs.get(l.id)!) this.#failFile(u.file, `pack ${pack} could not be read: ${(err as Error).message}`);
      return;
    }
    const sent: PlannedFile[] = [];
    const job: PackJob = {
      pack,
      start,
      bytes,
      blobs: locs.map((loc) => ({
        loc,
        targets: blobs
          .get(loc.id)!
          .filter((u) => !u.file.failed)
          .map((u) => {
            sent.push(u.file);
            return {
              path: this.#out(u.file.path),
              offset: u.file.offsets[u.i]!,
              ...(u.i === u.file.offsets.length - 1 ? { end: u.file.size } : {}),
            };
          }),
      })),
    };
    const r = await pool.run(job, lane);
    throwIfAborted(this.#opts.signal);
    this.#progress.bytes += r.bytes;
    if (r.failed.length > 0) {
      // Workers name files by target path; map them back for this job only (a damaged range fails many).
      const byOut = new Map(sent.map((p) => [this.#out(p.path), p]));
      for (const f of r.failed) {
        const file = byOut.get(f.path);
        if (file) this.#failFile(file, f.message);
      }
    }
    // Files whose last chunk is now written get their metadata while the workers go on: after all the
    // data, that was 0.6 s of one thread for the 15,000 files of the bench's mixed tree (2026-11-30).
    for (const f of sent) if (--f.pending! === 0 && !f.failed) this.#finishFile(f);
  }

  /** Mark a file failed; it is removed once all writers are done (a partial file must not pass for the real one). */
  #failFile(f: PlannedFile, message: string): void {
    if (f.failed) return;
    f.failed = true;
    this.#warn({ path: f.path, kind: 'damaged', message });
  }

  #meta(path: string, node: TreeNode): void {
    try {
      for (const w of applyMeta(this.#out(path), nodeToMeta(node), { owner: this.#owner })) {
        this.#warn({ path, kind: 'metadata', message: w });
      }
    } catch (err) {
      this.#warn({ path, kind: 'metadata', message: (err as Error).message });
    }
  }

  async #finishFiles(): Promise<void> {
    let n = 0;
    for (const f of this.#files) {
      if (++n % breatheEvery === 0) await breathe(this.#opts.signal);
      if (f.failed) {
        // Only a name this restore made its own: a file refused because its folder in the target is a
        // symlink must not be looked for through that link.
        if (f.created && !f.linkOf) {
          try {
            rmSync(fsPath(this.#out(f.path)), { force: true });
          } catch (err) {
            this.#warn({ path: f.path, kind: 'io', message: `cannot remove the partial file: ${(err as Error).message}` });
          }
        }
        continue;
      }
      if (f.linkOf) {
        if (f.linkOf.failed) {
          f.failed = true;
          continue;
        }
        try {
          const out = this.#out(f.path);
          this.#clear(out);
          linkSync(fsPath(this.#out(f.linkOf.path)), fsPath(out));
        } catch (err) {
          this.#warn({ path: f.path, kind: 'io', message: (err as Error).message });
        }
        continue;
      }
      if (!f.done) this.#finishFile(f);
    }
  }

  /** A file whose every chunk is written: its metadata (owner, attributes, mode, times). */
  #finishFile(f: PlannedFile): void {
    this.#meta(f.path, f.node);
    this.#progress.files++;
    f.done = true;
  }

  async #finishDirs(): Promise<void> {
    const dirs = this.#dirs.filter((d) => d.placed).sort((a, b) => b.depth - a.depth);
    let n = 0;
    for (const d of dirs) {
      if (++n % breatheEvery === 0) await breathe(this.#opts.signal);
      this.#meta(d.path, d.node);
    }
  }

  async #verify(): Promise<number> {
    let n = 0;
    for (const f of this.#files) {
      if (f.failed) continue;
      const out = this.#out(f.path);
      try {
        const fd = openSync(fsPath(out), fsc.O_RDONLY | fsc.O_NOFOLLOW);
        try {
          const content = f.linkOf ? f.linkOf.node.content : f.node.content;
          for (const [i, id] of (content ?? []).entries()) {
            const len = this.#repo.index.rawLength(id) ?? 0;
            const buf = Buffer.allocUnsafe(len);
            let got = 0;
            while (got < len) {
              const r = readSync(fd, buf, got, len - got, (f.linkOf ?? f).offsets[i]! + got);
              if (r === 0) break;
              got += r;
            }
            if (got !== len || blobId(this.#repo.master, buf, 'data') !== id) {
              throw new Error(`content differs from the snapshot at chunk ${i}`);
            }
          }
        } finally {
          closeSync(fd);
        }
        n++;
      } catch (err) {
        this.#warn({ path: f.path, kind: 'verify', message: (err as Error).message });
      }
    }
    return n;
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

/**
 * The phases that create and finish entries use synchronous calls, one entry at a time (the fastest way);
 * every `breatheEvery` entries they let the event loop run, so a daemon restoring a million files still
 * answers its API and timers, and an abort stops them within a few milliseconds.
 */
const breatheEvery = 256;
async function breathe(signal: AbortSignal | undefined): Promise<void> {
  await yieldNow();
  throwIfAborted(signal);
}
