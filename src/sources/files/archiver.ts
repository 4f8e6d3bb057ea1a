/**
 * The files source's backup: walk paths, store what changed, write trees bottom-up, save a snapshot.
 *
 *   walk (this thread: readdir, lstat, xattrs) ──files──▶ ChunkPool (workers: read, chunk, hash, seal)
 *        │                                                        │
 *        └── trees, bottom-up ◀── file nodes ◀────────────────────┘──▶ BlobWriter (packs, index) ──▶ backend
 *
 * Snapshot paths are absolute and the tree mirrors them from `/`, so `/srv/share/x` in a snapshot is the
 * file that was at `/srv/share/x`. A parent snapshot (by default the latest one of the same host and
 * paths) lets a file whose size, mtime, ctime and inode are unchanged be carried over without reading it.
 *
 * Errors on single entries (unreadable, vanished, changed while read) are warnings: the backup goes on and
 * the caller reports them (exit code 3). Anything that threatens the repository's integrity (a backend
 * write failing, an abort) is fatal and no snapshot is saved.
 */
import { lstatSync, statSync, type BigIntStats } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { currentUsername, errnoCode, Fifo, fsPath, LifeboatError, readdirNames, throwIfAborted } from '../../core/index.ts';
import {
  adoptPacks,
  BlobWriter,
  encodeTree,
  loadSnapshots,
  decodeTree,
  Lock,
  saveSnapshot,
  type Repository,
  type Snapshot,
  type SnapshotEntry,
  type SnapshotSummary,
  type TreeNode,
} from '../../repo/index.ts';
import { compileExcludes, type Excluder } from './exclude.ts';
import { readMeta, type EntryMeta } from './fsmeta.ts';
import { metaToNode } from './node.ts';
import { ChunkPool } from './pool.ts';
import { MetaPrefetch, prestartPrefetch } from './prefetch.ts';
import type { FileJob, FileResult } from './chunk-work.ts';

export const PROGRAM_VERSION = 'lifeboat 0.1.0';

/** Files larger than this are read as segments of this size by several workers at once. */
const SEGMENT = 64 * 1024 * 1024;

export interface BackupProgress {
  files: number;
  dirs: number;
  /** Bytes of file content looked at (read, or carried over from the parent). */
  bytes: number;
  /** Bytes of new chunks (before compression). */
  bytesNew: number;
  errors: number;
  current: string;
}

export interface BackupWarning {
  path: string;
  kind: 'unreadable' | 'vanished' | 'changed' | 'skipped';
  message: string;
}

export interface BackupOptions {
  paths: string[];
  excludes?: string[];
  oneFileSystem?: boolean;
  tags?: string[];
  hostname?: string;
  /** A snapshot to compare with; `false` to read everything; default: latest with same host and paths. */
  parent?: SnapshotEntry | false;
  /** Worker threads (0 = inline). Default: one per core. */
  workers?: number;
  signal?: AbortSignal;
  /** Live counters; read them on a timer to draw progress. */
  progress?: BackupProgress;
  onWarning?: (w: BackupWarning) => void;
  /** Take no lock (the caller holds one). */
  noLock?: boolean;
  /**
   * Folders the caller knows unchanged since the parent snapshot (a file-system watcher saw nothing happen
   * in them or below): their nodes, subtrees and all, are the parent's, neither listed nor looked at. Its
   * file counts then leave them out. A missed event costs the change until a backup without this hint.
   */
  unchanged?: (path: string) => boolean;
  /**
   * One run of many on a long-lived repository object that is the repository's only writer (a replication
   * checkpoint after the first): the index in memory is the whole index, so index files are not listed
   * again, nor packs of an interrupted run looked for, and no read-ahead worker is started for a walk that
   * `unchanged` keeps short. Listing a remote journal's index files and packs every second grew with it.
   */
  continuous?: boolean;
  /** Fault injection for tests: called after a file's lstat, before it is read. */
  faults?: { beforeRead?: (path: string) => void };
  /**
   * Store the single given path under this absolute name in the snapshot (a staging folder of a database
   * dump becomes `/postgres/shop`). The snapshot's `paths` hold this name.
   */
  storeAs?: string;
  /** What was protected (default `{ kind: 'files' }`) and how consistent the point is (default crash). */
  source?: Snapshot['source'];
  consistency?: Snapshot['consistency'];
  /**
   * Called when every file is stored, before the snapshot is saved: a source ends its capture here (a
   * PostgreSQL base backup calls pg_backup_stop; post hooks run) and may add to the snapshot. If it
   * throws, no snapshot is saved.
   */
  finalize?: (snapshot: Snapshot) => Promise<void>;
}

/** What every source hands on to the archiver unchanged (database sources store through it). */
export type CaptureOptions = Pick<BackupOptions, 'tags' | 'hostname' | 'signal' | 'progress' | 'onWarning' | 'finalize'>;

/** The capture options that are set, ready to spread into BackupOptions. */
export function captureOptions(o: CaptureOptions): CaptureOptions {
  const out: CaptureOptions = {};
  for (const k of ['tags', 'hostname', 'signal', 'progress', 'onWarning', 'finalize'] as const) {
    if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
  }
  return out;
}

export interface BackupResult {
  id: string;
  snapshot: Snapshot;
  warnings: BackupWarning[];
}

export function newProgress(): BackupProgress {
  return { files: 0, dirs: 0, bytes: 0, bytesNew: 0, errors: 0, current: '' };
}

/**
 * Absolute, deduplicated paths; a path inside another given path is dropped (the outer covers it). A path
 * below another given path that is a symlink is refused: the link is stored as a link, so what lies
 * "below" it could not be restored there.
 */
export function normalizePaths(paths: readonly string[]): string[] {
  if (paths.length === 0) throw new LifeboatError('USAGE', 'no path to back up', { hint: 'lifeboat backup PATH...' });
  const abs = [...new Set(paths.map((p) => resolvePath(p)))].sort();
  const inside = (p: string, q: string): boolean => q !== p && (q === '/' || p.startsWith(q + '/'));
  for (const q of abs) {
    for (const nested of abs.filter((p) => inside(p, q))) {
      // The walk of q stores a symlink on the way as a link: what lies beyond it would be lost.
      const parts = nested.slice(q === '/' ? 1 : q.length + 1).split('/');
      const on = [q, ...parts.slice(0, -1).map((_, i) => `${q === '/' ? '' : q}/${parts.slice(0, i + 1).join('/')}`)];
      const link = on.find((r) => isSymlink(r));
      if (link === undefined) continue;
      throw new LifeboatError('USAGE', `cannot back up ${nested} together with ${q}: ${link} is a symlink, stored as a link`, {
        hint: `leave out one of the two, or give the folder the link points to instead of ${link}`,
      });
    }
  }
  return abs.filter((p) => !abs.some((q) => inside(p, q)));
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(fsPath(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

interface Counters {
  summary: SnapshotSummary;
}

/**
 * Boot the backup's read-ahead worker now, while the command opens the repository (see prestartWorkers).
 * Not the chunk workers: a backup where nothing changed never needs them, and booting them beside the key
 * derivation made it 0.12-0.2 s slower (mixed bench tree, page cache dropped, 2026-11-30); they start
 * with the first batch of changed files.
 */
export function prestartBackupWorkers(): void {
  prestartPrefetch();
}

export async function backupFiles(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  const realPaths = normalizePaths(opts.paths);
  let paths = realPaths;
  if (opts.storeAs !== undefined) {
    if (realPaths.length !== 1 || !opts.storeAs.startsWith('/') || opts.storeAs === '/' || opts.storeAs.split('/').some((p) => p === '..' || p === '.')) {
      throw new LifeboatError('USAGE', 'storeAs takes one path and an absolute name without . or .. components');
    }
    paths = [opts.storeAs];
  }
  const host = opts.hostname ?? osHostname();
  const lock = opts.noLock ? undefined : await Lock.acquire(repo, { exclusive: false, purpose: 'backup' });
  // Started first, so that it also overlaps loading the index and the parent snapshot.
  const prefetch = opts.continuous ? undefined : MetaPrefetch.start(realPaths, { excludes: opts.excludes ?? [], oneFileSystem: opts.oneFileSystem });
  try {
    if (!opts.continuous) {
      await repo.loadIndex(opts.signal ? { signal: opts.signal } : {});
      // Data stored by an interrupted backup (packs without an index) is indexed now and reused.
      await adoptPacks(repo, opts.signal ? { signal: opts.signal } : {});
    }
    let parent: SnapshotEntry | undefined;
    if (opts.parent === undefined) {
      const all = await loadSnapshots(repo, { onError: () => undefined });
      const key = JSON.stringify(paths);
      parent = all.filter((s) => s.hostname === host && JSON.stringify([...s.paths].sort()) === key).pop();
    } else if (opts.parent !== false) {
      parent = opts.parent;
    }
    const writer = new BlobWriter(repo, opts.signal ? { signal: opts.signal } : {});
    const pool = new ChunkPool(
      writer,
      {
        master: { encryption: repo.master.encryption, mac: repo.master.mac },
        chunker: repo.config.chunker,
        level: 3,
      },
      opts.workers === undefined ? {} : { workers: opts.workers },
    );
    const arch = new Archiver(repo, writer, pool, opts, parent);
    let flushed = false;
    try {
      const start = new Date(repo.clock.now()).toISOString();
      const root = await arch.archiveRoots(paths, realPaths);
      await prefetch?.stop();
      await writer.flush();
      flushed = true;
      throwIfAborted(opts.signal);
      const s = arch.counters.summary;
      s.backup_start = start;
      s.backup_end = new Date(repo.clock.now()).toISOString();
      s.data_added = writer.stats.rawAdded;
      s.data_added_packed = writer.stats.packBytes;
      s.errors = arch.warnings.length;
      const username = currentUsername();
      const snapshot: Snapshot = {
        time: start,
        tree: root,
        paths,
        hostname: host,
        username,
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
        ...(opts.tags?.length ? { tags: [...opts.tags] } : {}),
        ...(parent ? { parent: parent.id } : {}),
        ...(opts.excludes?.length ? { excludes: [...opts.excludes] } : {}),
        program_version: PROGRAM_VERSION,
        source: opts.source ?? { kind: 'files' },
        consistency: opts.consistency ?? 'crash',
        summary: s,
      };
      await opts.finalize?.(snapshot);
      throwIfAborted(opts.signal);
      lock?.assertHeld();
      const id = await saveSnapshot(repo, snapshot, opts.signal);
      return { id, snapshot, warnings: arch.warnings };
    } finally {
      await pool.close();
      // Failed or interrupted: the packs being written are removed (what was committed is adopted next time).
      if (!flushed) await writer.discard();
    }
  } finally {
    await prefetch?.stop();
    await lock?.release();
  }
}

function dirnameOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/**
 * An entry that exists but is not stored (unreadable, or a socket): its folder is marked `incomplete`, so
 * that `restore --delete` never removes what the snapshot could not hold. Excluded and vanished entries
 * are `undefined`.
 */
const UNREAD = Symbol('unread');
type Child = TreeNode | undefined | typeof UNREAD;

/** A folder's tree in the parent snapshot: its nodes by name, and its bytes. */
interface ParentTree {
  nodes: Map<string, TreeNode>;
  plain: Buffer;
}

/** A folder listed, its entries started (see Archiver.#expand). */
interface Expanded {
  children: Array<Promise<Child>>;
  prevTree: ParentTree | undefined;
  incomplete: boolean;
}

/** A folder met by the walk, waiting to be expanded (see Archiver.#folders). */
interface PendingFolder {
  path: string;
  name: string;
  prev: TreeNode | undefined;
  depth: number;
  meta: EntryMeta;
  resolve: (node: TreeNode) => void;
  reject: (err: unknown) => void;
}

class Archiver {
  readonly warnings: BackupWarning[] = [];
  readonly counters: Counters = {
    summary: {
      backup_start: '',
      backup_end: '',
      files_new: 0,
      files_changed: 0,
      files_unmodified: 0,
      dirs_new: 0,
      dirs_changed: 0,
      dirs_unmodified: 0,
      data_blobs: 0,
      tree_blobs: 0,
      data_added: 0,
      data_added_packed: 0,
      total_files_processed: 0,
      total_bytes_processed: 0,
      errors: 0,
    },
  };
  readonly #repo: Repository;
  readonly #writer: BlobWriter;
  readonly #pool: ChunkPool;
  readonly #opts: BackupOptions;
  readonly #parent: SnapshotEntry | undefined;
  readonly #exclude: Excluder;
  readonly #progress: BackupProgress;
  /** Hard links: one read per (device, inode). */
  readonly #links = new Map<string, Promise<FileResult>>();
  #rootDevs = new Set<number>();
  /**
   * Folders waiting to be expanded, in the order they were met; `#expandFolders` takes them one at a time.
   * A plain record each: as suspended async calls waiting for their turn, the ~10,000 folders queued
   * during a walk of 100,000 tiny files held ~10 MiB of generators, promises and closures (heap snapshot,
   * 2026-11-30).
   */
  readonly #folders = new Fifo<PendingFolder>();
  #expanding = false;

  #lastYield = performance.now();

  /**
   * Let the event loop run every few milliseconds. Folders are expanded in promise continuations, which
   * never give way to messages: the workers' dedup questions waited until a cold walk of the bench's mixed
   * tree was over, and the workers sat idle for 0.75 s of a 3.8 s backup (2026-11-30).
   */
  async #yieldNow(): Promise<void> {
    if (performance.now() - this.#lastYield < 5) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#lastYield = performance.now();
  }

  constructor(repo: Repository, writer: BlobWriter, pool: ChunkPool, opts: BackupOptions, parent: SnapshotEntry | undefined) {
    this.#repo = repo;
    this.#writer = writer;
    this.#pool = pool;
    this.#opts = opts;
    this.#parent = parent;
    this.#exclude = compileExcludes(opts.excludes ?? []);
    this.#progress = opts.progress ?? newProgress();
    pool.onBlob = (raw) => {
      this.#progress.bytesNew += raw;
      this.counters.summary.data_blobs++;
    };
  }

  #warn(w: BackupWarning): void {
    this.warnings.push(w);
    this.#progress.errors++;
    this.#opts.onWarning?.(w);
  }

  /**
   * Archive the given absolute paths; returns the root tree id. `real` (same order) are where the data is
   * read from when it differs from the name it is stored under.
   */
  async archiveRoots(paths: string[], real: string[] = paths): Promise<string> {
    const realOf = new Map(paths.map((p, i) => [p, real[i]!]));
    // A trie of path components: given paths are leaves; the folders above them are stored with their own
    // metadata but only the children leading to given paths.
    interface Trie {
      children: Map<string, Trie>;
      leaf: boolean;
    }
    const root: Trie = { children: new Map(), leaf: false };
    for (const p of paths) {
      let t = root;
      for (const part of p.split('/').filter(Boolean)) {
        let c = t.children.get(part);
        if (!c) t.children.set(part, (c = { children: new Map(), leaf: false }));
        t = c;
      }
      t.leaf = true;
      try {
        this.#rootDevs.add(Number(lstatSync(fsPath(realOf.get(p)!)).dev));
      } catch (err) {
        throw new LifeboatError('USAGE', `cannot back up ${p}: ${(err as Error).message}`, {
          cause: err,
          hint: 'check the path exists and is readable',
        });
      }
    }
    if (root.leaf) return (await this.#dir('/', '', undefined, 0)).subtree!;
    const parentRoot = this.#parent?.tree;
    const build = async (abs: string, t: Trie, parentTree: string | undefined): Promise<TreeNode[]> => {
      const prev = parentTree ? (await this.#parentTree(parentTree))?.nodes : undefined;
      const nodes: TreeNode[] = [];
      for (const [name, child] of [...t.children].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const path = abs === '/' ? `/${name}` : `${abs}/${name}`;
        const prevNode = prev?.get(name);
        if (child.leaf) {
          const n = await this.#entry(realOf.get(path) ?? path, name, prevNode, 0);
          if (n !== undefined && n !== UNREAD) nodes.push(n);
          continue;
        }
        // A folder above a given path: stored as a folder with its own metadata (or, above a path stored
        // under another name, with the metadata of the folder above the real path). A symlink on the way
        // (Debian's /bin -> usr/bin) is followed, as restic and borg do: the path is kept as given, and what
        // it goes through is a folder. Only a given path's last component is kept as a symlink.
        const below = [...realOf].find(([p, r]) => p !== r && p.startsWith(path + '/'));
        const metaPath = below ? dirnameOf(below[1]) : path;
        let st: BigIntStats;
        try {
          st = statSync(fsPath(metaPath), { bigint: true });
        } catch (err) {
          throw new LifeboatError('USAGE', `cannot back up below ${path}: ${(err as Error).message}`, { cause: err });
        }
        if (!st.isDirectory()) throw new LifeboatError('USAGE', `cannot back up below ${path}: not a folder`);
        const node = metaToNode(name, readMeta(metaPath, st));
        node.subtree = await this.#writer.store('tree', encodeTree(await build(path, child, prevNode?.subtree)));
        nodes.push(node);
      }
      return nodes;
    };
    return this.#writer.store('tree', encodeTree(await build('/', root, parentRoot)));
  }

  /** A folder's tree in the parent snapshot: its nodes by name, and its bytes (see `#dir`). */
  async #parentTree(treeId: string): Promise<ParentTree | undefined> {
    try {
      const plain = await this.#repo.loadBlob('tree', treeId, this.#opts.signal);
      const t = decodeTree(plain, treeId);
      return { nodes: new Map(t.nodes.map((n) => [n.name, n])), plain };
    } catch {
      return undefined; // a damaged parent only costs re-reading
    }
  }

  /** One entry of any type; undefined when it is excluded or vanished, UNREAD when it is not stored. */
  async #entry(path: string, name: string, prev: TreeNode | undefined, depth: number, st?: BigIntStats): Promise<Child> {
    throwIfAborted(this.#opts.signal);
    if (depth > 0 && this.#exclude(path, name)) return undefined;
    // A folder a watcher saw nothing happen in, or below, since the parent: the parent's node, unlisted.
    if (depth > 0 && prev?.type === 'dir' && prev.subtree !== undefined && this.#opts.unchanged?.(path) === true && this.#writer.known(prev.subtree)) {
      this.counters.summary.dirs_unmodified++;
      return prev;
    }
    if (!st) {
      try {
        st = lstatSync(fsPath(path), { bigint: true });
      } catch (err) {
        return this.#failed(path, errnoCode(err), err);
      }
    }
    let meta;
    try {
      meta = readMeta(path, st, undefined, prev);
    } catch (err) {
      return this.#failed(path, err instanceof LifeboatError ? err.context['errno'] : errnoCode(err), err);
    }
    if (meta.unstoredXattrs !== undefined) {
      this.#warn({ path, kind: 'unreadable', message: `extended attribute(s) ${meta.unstoredXattrs.join(', ')} not stored: their names are not UTF-8` });
    }
    if (meta.type === 'dir') return this.#dir(path, name, prev, depth, meta);
    const node = metaToNode(name, meta);
    if (meta.type !== 'file') {
      if (meta.type === 'socket') {
        this.#warn({ path, kind: 'skipped', message: 'sockets are not backed up' });
        return UNREAD;
      }
      this.#progress.files++;
      return node;
    }
    this.#progress.current = path;
    if (this.#carriedOver(node, prev)) return node;
    // What reading needs, taken from the stat now: the stat itself (a BigIntStats, ~700 bytes) would live
    // in the suspended #file until the workers are done with the file, long enough to reach the old
    // generation (73 of 457 MiB of the main thread's old-generation garbage on 100,000 tiny files).
    const job: FileJob = { path, size: Number(st.size), mtimeNs: String(st.mtimeNs), ino: Number(st.ino) };
    return this.#file(node, prev, job, st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined);
  }

  /** An entry that could not be read: vanished since it was listed (ENOENT), or not stored (UNREAD). */
  #failed(path: string, errno: unknown, err: unknown): undefined | typeof UNREAD {
    const vanished = errno === 'ENOENT';
    this.#warn({ path, kind: vanished ? 'vanished' : 'unreadable', message: (err as Error).message });
    return vanished ? undefined : UNREAD;
  }

  /** An unchanged file (same size, times and inode as in the parent snapshot) keeps its content unread. */
  #carriedOver(node: TreeNode, prev: TreeNode | undefined): boolean {
    if (
      !prev ||
      prev.type !== 'file' ||
      prev.size !== node.size ||
      prev.mtime !== node.mtime ||
      prev.ctime !== node.ctime ||
      prev.inode !== node.inode ||
      !prev.content ||
      !prev.content.every((id) => this.#writer.known(id))
    ) {
      return false;
    }
    const s = this.counters.summary;
    node.content = prev.content;
    s.files_unmodified++;
    s.total_files_processed++;
    s.total_bytes_processed += node.size ?? 0;
    this.#progress.files++;
    this.#progress.bytes += node.size ?? 0;
    return true;
  }

  /** Read a file (once per hard-linked inode: `linkKey`) and fill in its node. */
  async #file(node: TreeNode, prev: TreeNode | undefined, job: FileJob, linkKey: string | undefined): Promise<Child> {
    const s = this.counters.summary;
    const path = job.path;
    this.#opts.faults?.beforeRead?.(path);
    let result: Promise<FileResult>;
    if (linkKey !== undefined) {
      let r = this.#links.get(linkKey);
      if (!r) this.#links.set(linkKey, (r = this.#read(job)));
      result = r;
    } else {
      result = this.#read(job);
    }
    const r = await result;
    if (r.error !== undefined) return this.#failed(path, r.errorCode, new Error(r.error));
    if (r.changed) this.#warn({ path, kind: 'changed', message: 'file changed while it was read; the snapshot holds what was read' });
    node.content = r.content;
    node.size = r.size;
    if (prev) s.files_changed++;
    else s.files_new++;
    s.total_files_processed++;
    s.total_bytes_processed += r.size;
    this.#progress.files++;
    this.#progress.bytes += r.size;
    return node;
  }

  /**
   * Read one file through the pool. A file larger than SEGMENT is read as independent segments, so both
   * workers share it (one 256 MiB database file kept one worker busy while the other idled: the bench's
   * incremental backup). Chunking restarts at each segment start: boundaries stay put as long as the
   * segment offsets do, and an insertion costs at most one extra chunk per segment after it.
   */
  async #read(job: FileJob): Promise<FileResult> {
    if (job.size <= SEGMENT) return this.#pool.submit(job);
    const parts: Array<Promise<FileResult>> = [];
    for (let offset = 0; offset < job.size; offset += SEGMENT) {
      const last = offset + SEGMENT >= job.size;
      parts.push(this.#pool.submit({ ...job, offset, ...(last ? {} : { length: SEGMENT }) }));
    }
    const results = await Promise.all(parts);
    const failed = results.find((r) => r.error !== undefined);
    if (failed) return failed;
    const size = results.reduce((a, r) => a + r.size, 0);
    const content = results.flatMap((r) => r.content);
    const changed = results.some((r) => r.changed) || size !== job.size;
    return changed ? { content, size, changed } : { content, size };
  }

  /** A folder: queued to be expanded (see #folders); resolves with its node once its tree is stored. */
  #dir(path: string, name: string, prev: TreeNode | undefined, depth: number, meta?: EntryMeta): Promise<TreeNode> {
    return new Promise<TreeNode>((resolve, reject) => {
      meta ??= readMeta(path); // a throw here rejects
      this.#folders.push({ path, name, prev, depth, meta, resolve, reject });
      if (!this.#expanding) void this.#expandFolders();
    });
  }

  /**
   * Expand the queued folders one at a time, and only while the workers' queue has room: every queued file
   * holds its stat and node, and with all folders expanded at once the 100,000-file bench backup peaked at
   * 384 MiB of heap. 4,096 queued files is 16 full batches. A folder's files then wait for the workers
   * while the next folders are expanded.
   */
  async #expandFolders(): Promise<void> {
    this.#expanding = true;
    try {
      for (let f = this.#folders.shift(); f !== undefined; f = this.#folders.shift()) {
        try {
          const expanded = await this.#expand(f);
          void this.#finishDir(f, expanded).then(f.resolve, f.reject);
        } catch (err) {
          f.reject(err);
        }
      }
    } finally {
      this.#expanding = false;
    }
  }

  /**
   * List a folder and start each of its entries. `incomplete`: the listing is not the folder's whole
   * contents (another file system under --one-file-system, or the folder could not be listed).
   */
  async #expand(f: PendingFolder): Promise<Expanded> {
    await this.#yieldNow();
    await this.#pool.waitForRoom(4096);
    this.#progress.dirs++;
    let names: string[] = [];
    const crossesDevice = this.#opts.oneFileSystem === true && f.depth > 0 && !this.#rootDevs.has(f.meta.dev);
    let incomplete = crossesDevice;
    if (!crossesDevice) {
      try {
        names = readdirNames(f.path);
      } catch (err) {
        this.#warn({ path: f.path, kind: 'unreadable', message: (err as Error).message });
        incomplete = true;
      }
    }
    names.sort();
    const prev = f.prev;
    const prevTree = prev?.type === 'dir' && prev.subtree ? await this.#parentTree(prev.subtree) : undefined;
    const prevNodes = prevTree?.nodes;
    // Start every child before awaiting any, so this folder's files queue for the workers while the
    // walk goes on to the next folder.
    const children = names.map((n) => {
      const p = f.path === '/' ? `/${n}` : `${f.path}/${n}`;
      return this.#entry(p, n, prevNodes?.get(n), f.depth + 1);
    });
    return { children, prevTree, incomplete };
  }

  /** Once every entry of a folder is done: its tree, stored (or the parent snapshot's, when identical). */
  async #finishDir(f: PendingFolder, { children, prevTree, incomplete }: Expanded): Promise<TreeNode> {
    const node = metaToNode(f.name, f.meta);
    const prev = f.prev;
    const s = this.counters.summary;
    const nodes: TreeNode[] = [];
    for (const c of await Promise.all(children)) {
      if (c === UNREAD) incomplete = true;
      else if (c) nodes.push(c);
    }
    if (incomplete) node.incomplete = true;
    const plain = encodeTree(nodes);
    // The same bytes as in the parent snapshot are the same blob: skip naming it (an HMAC) and the lookup.
    const same = prevTree !== undefined && prev?.subtree !== undefined && plain.equals(prevTree.plain) && this.#writer.known(prev.subtree);
    node.subtree = same ? prev.subtree! : await this.#writer.store('tree', plain);
    s.tree_blobs++;
    if (!prev) s.dirs_new++;
    else if (prev.subtree === node.subtree) s.dirs_unmodified++;
    else s.dirs_changed++;
    return node;
  }
}
