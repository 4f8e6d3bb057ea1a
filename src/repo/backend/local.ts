/**
 * LocalBackend: a repository in a local folder. The embedded default.
 *
 * Layout (docs and restic-compatible in spirit):
 *
 *     <root>/config                 the one config file
 *     <root>/keys/<name>
 *     <root>/snapshots/<name>
 *     <root>/index/<name>
 *     <root>/data/<name[0..2]>/<name>   packs, fanned out over 256 folders so none grows huge
 *     <root>/locks/<name>
 *     <root>/wal/<name>     archived PostgreSQL WAL (made on first use)
 *
 * Saves are atomic and durable the classic way: write `.tmp-<random>` in the target's own folder (so the
 * rename never crosses a filesystem), fsync it, rename it over the target, fsync the folder. Names starting
 * with `.` are never valid file names, so `list` skips temp files of saves in progress and those left by a
 * crash. Files are created 0600 and folders 0700: a repository is encrypted, but its sizes and names
 * (snapshot times, pack counts) are still nobody else's business.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, stat, unlink, rename } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { LifeboatError, NotFoundError, errnoCode, mkdirs, throwIfAborted } from '../../core/index.ts';
import type { Backend, FileInfo, FileReader, FileType, FileWriter, Handle, LoadOptions, OpOptions, SaveOptions } from './backend.ts';

/** Folder of each type under the root (`config` lives in the root itself). */
const folders: Record<Exclude<FileType, 'config'>, string> = {
  key: 'keys',
  snapshot: 'snapshots',
  index: 'index',
  pack: 'data',
  lock: 'locks',
  wal: 'wal',
};

/** Prefix of in-progress saves. Starts with `.`, which no valid name does, so `list` never sees them. */
const tempPrefix = '.tmp-';

/**
 * Writes and reads go in pieces of this size so a large pack notices an abort between pieces. 4 MiB is big
 * enough that the per-call overhead is lost in the noise of a disk write, small enough to stop promptly.
 */
const ioChunk = 4 * 1024 * 1024;

/** stat() calls in flight while listing a folder: enough to hide latency on network filesystems. */
const statConcurrency = 32;
/** Pack folders read at once while listing packs. */
const packFoldersAhead = 16;

/** A valid file name: letters, digits, `-`, `_`; never `.`-prefixed (temp files), never a path. */
const validName = /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;
const packName = /^[0-9a-f]{2}/;
const hexPair = /^[0-9a-f]{2}$/;

/**
 * The error for a full disk (ENOSPC) or exhausted quota (EDQUOT). Shared with the fault-injection backend so
 * tests see exactly what users see.
 */
export function diskFullError(where: string, cause: unknown): LifeboatError {
  const quota = errnoCode(cause) === 'EDQUOT';
  return new LifeboatError('IO', `${quota ? 'disk quota exceeded' : 'disk full'} while writing ${where}`, {
    hint:
      'free space on the disk that holds the repository, then run the command again; ' +
      'the repository was left as it was, without the file being written',
    cause,
    context: { path: where },
  });
}

/** Maps a Node system error to a `LifeboatError` naming the file; `LifeboatError`s pass through. */
function ioError(op: 'read' | 'write' | 'stat' | 'remove' | 'list' | 'create', path: string, err: unknown): LifeboatError {
  if (err instanceof LifeboatError) return err;
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return diskFullError(path, err);
  const context = { path, op };
  if (code === 'EACCES' || code === 'EPERM') {
    return new LifeboatError('IO', `permission denied: cannot ${op} ${path}`, {
      hint: 'run Lifeboat as the user that owns the repository, or fix the folder permissions',
      cause: err,
      context,
    });
  }
  if (code === 'EROFS') {
    return new LifeboatError('IO', `cannot ${op} ${path}: the filesystem is read-only`, { cause: err, context });
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new LifeboatError('IO', `cannot ${op} ${path}: ${detail}`, { cause: err, context });
}

function notFound(h: Handle, path: string, cause: unknown): NotFoundError {
  return new NotFoundError(`${h.type} ${h.name} not found (${path})`, { cause, context: { ...h, path } });
}

function checkRange(path: string, h: Handle, offset: number, length: number | undefined): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
    throw new LifeboatError('BACKEND', `invalid range offset=${offset} length=${String(length)} for ${path}`, {
      context: { ...h, path, offset, length },
    });
  }
}

/** Write all of `data` at file offset `at`, in ioChunk pieces, checking `signal` between them. */
async function writeAllAt(fh: FileHandle, data: Uint8Array, at: number, signal: AbortSignal | undefined): Promise<void> {
  for (let off = 0; off < data.byteLength; ) {
    throwIfAborted(signal);
    const { bytesWritten } = await fh.write(data, off, Math.min(ioChunk, data.byteLength - off), at + off);
    if (bytesWritten === 0) throw new Error('write made no progress');
    off += bytesWritten;
  }
}

/** fsync a folder so a rename or create in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems (certain FUSE and network mounts) cannot fsync a folder. They give no stronger
    // guarantee we could ask for instead, so this is not an error; restic makes the same choice.
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw err;
  } finally {
    await fh.close();
  }
}

async function mkdirPrivate(path: string): Promise<boolean> {
  try {
    await mkdir(path, { mode: 0o700 });
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
}

export class LocalBackend implements Backend {
  readonly location: string;
  readonly #root: string;

  /** A backend for the folder `root`, which need not exist yet (see `create`). To open one, use `openLocal`. */
  constructor(root: string) {
    this.#root = resolve(root);
    this.location = this.#root;
  }

  /**
   * Creates the layout, including the 256 `data/xx` folders.
   *
   * The root may already exist if it is "empty-ish": it holds nothing, or only `lost+found` (a freshly
   * formatted disk), `.tmp-*` leftovers, and layout folders that hold no files (an earlier `create` that was
   * interrupted before the config was written). Anything else is refused: with a config it is a repository
   * (`REPO_EXISTS`); without one it is somebody's data (`USAGE`). An existing root keeps its own mode; the
   * folders inside are 0700, which is what keeps the contents private.
   */
  async create(opts: OpOptions = {}): Promise<void> {
    const { signal } = opts;
    throwIfAborted(signal);
    const root = this.#root;
    try {
      await mkdirs(dirname(root));
      const made = await mkdirPrivate(root);
      if (!made) await this.#checkEmptyish();
      throwIfAborted(signal);
      for (const folder of Object.values(folders)) await mkdirPrivate(join(root, folder));
      const data = join(root, folders.pack);
      const prefixes = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
      await Promise.all(prefixes.map((p) => mkdirPrivate(join(data, p))));
      await syncDir(data);
      await syncDir(root);
      if (made) await syncDir(dirname(root));
    } catch (err) {
      throw ioError('create', root, err);
    }
  }

  async #checkEmptyish(): Promise<void> {
    const root = this.#root;
    const entries = await readdir(root, { withFileTypes: true });
    if (entries.some((e) => e.name === 'config')) {
      throw new LifeboatError('REPO_EXISTS', `a repository already exists at ${root}`, {
        hint: 'use it as it is, or choose a new or empty folder for `lifeboat init`',
        context: { path: root },
      });
    }
    const layout = new Set(Object.values(folders));
    const foreign = (what: string): LifeboatError =>
      new LifeboatError('USAGE', `${root} is not empty and holds no Lifeboat repository (found ${what})`, {
        hint: 'choose a new or empty folder for `lifeboat init`',
        context: { path: root, found: what },
      });
    for (const e of entries) {
      if (e.name.startsWith(tempPrefix) || (e.name === 'lost+found' && e.isDirectory())) continue;
      if (!layout.has(e.name) || !e.isDirectory()) throw foreign(e.name);
      const inner = await readdir(join(root, e.name), { withFileTypes: true });
      for (const f of inner) {
        if (f.name.startsWith(tempPrefix)) continue;
        // Key files without a config are what a crashed `init` leaves (the config is written last);
        // Repository.init removes them.
        if (e.name === folders.key && f.isFile()) continue;
        if (e.name === folders.pack && f.isDirectory() && hexPair.test(f.name)) {
          const packs = await readdir(join(root, e.name, f.name));
          const file = packs.find((n) => !n.startsWith(tempPrefix));
          if (file !== undefined) throw foreign(`${e.name}/${f.name}/${file}`);
          continue;
        }
        throw foreign(`${e.name}/${f.name}`);
      }
    }
  }

  #dir(h: Handle): string {
    if (h.type === 'config') return this.#root;
    if (h.type === 'pack') return join(this.#root, folders.pack, h.name.slice(0, 2));
    return join(this.#root, folders[h.type]);
  }

  /** The path of a handle, after checking its name cannot escape its folder or collide with temp files. */
  #path(h: Handle): string {
    const ok =
      h.type === 'config' ? h.name === 'config' : validName.test(h.name) && (h.type !== 'pack' || packName.test(h.name));
    if (!ok) {
      throw new LifeboatError('BACKEND', `invalid ${h.type} file name ${JSON.stringify(h.name)} in ${this.#root}`, {
        context: { ...h },
      });
    }
    return join(this.#dir(h), h.name);
  }

  async save(h: Handle, data: Uint8Array, opts: SaveOptions = {}): Promise<void> {
    const { signal } = opts;
    const durable = opts.durable ?? true;
    const path = this.#path(h);
    throwIfAborted(signal);
    const dir = this.#dir(h);
    const temp = join(dir, tempPrefix + randomBytes(8).toString('hex'));
    let fh: FileHandle | undefined;
    let renamed = false;
    try {
      fh = await this.#createTemp(temp, dir);
      await writeAllAt(fh, data, 0, signal);
      // Always: a file whose rename survived a crash must have its bytes (a renamed empty lock would stop
      // every later command). `durable: false` only skips the folder's fsync, so the rename itself may be
      // lost in a crash.
      await fh.sync();
      const closing = fh;
      fh = undefined;
      await closing.close();
      // Last chance to back out: after the rename the file is stored and the save has happened.
      throwIfAborted(signal);
      await rename(temp, path);
      renamed = true;
      // If this fsync fails the file is complete but may not survive a crash; the caller sees the error and
      // saves again (replacing it). Removing it instead could delete a good earlier version of a lock.
      if (durable) await syncDir(dir);
    } catch (err) {
      if (!renamed) {
        // Cleanup errors are dropped on purpose: the original error is the one to report, and a temp file
        // that could not be removed is invisible to `list` and harmless.
        await fh?.close().catch(() => undefined);
        await unlink(temp).catch(() => undefined);
      }
      throw ioError('write', path, err);
    }
  }

  /**
   * A writer for a new file of `type`: a temp file in the type's folder (`data/` for packs, whose `xx`
   * subfolder depends on the name), made on the first write; `commit` fsyncs it, renames it into place and
   * fsyncs that folder, as `save` does.
   */
  writer(type: Exclude<FileType, 'config'>, opts: OpOptions = {}): FileWriter {
    const { signal } = opts;
    const folder = join(this.#root, folders[type]);
    const temp = join(folder, tempPrefix + randomBytes(8).toString('hex'));
    let opened: Promise<FileHandle> | undefined;
    let closed = false;
    let size = 0;
    let state: 'open' | 'committing' | 'committed' | 'discarded' = 'open';
    let failure: unknown;
    const writes = new Set<Promise<void>>();
    const handle = (): Promise<FileHandle> => (opened ??= this.#createTemp(temp, folder));
    const discard = async (): Promise<void> => {
      if (state === 'committed' || state === 'discarded') return;
      state = 'discarded';
      if (!opened) return;
      // Errors are dropped: a temp file that cannot be removed is invisible to `list` and harmless.
      await Promise.allSettled(writes);
      const fh = await opened.catch(() => undefined);
      if (fh && !closed) await fh.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
    };
    const fail = async (err: unknown, path: string): Promise<never> => {
      failure ??= ioError('write', path, err);
      await discard();
      throw failure;
    };
    const usable = (): void => {
      if (failure !== undefined) throw failure;
      if (state !== 'open') throw new LifeboatError('INTERNAL', `a ${state} writer was used again (${temp})`);
    };
    const writeAt = async (data: Uint8Array, at: number): Promise<void> => {
      throwIfAborted(signal);
      await writeAllAt(await handle(), data, at, signal);
    };
    return {
      write: async (data) => {
        usable();
        // The place is taken now, so writes in flight together land in the order they were called.
        const w = writeAt(data, size);
        size += data.byteLength;
        writes.add(w);
        try {
          await w;
        } catch (err) {
          return fail(err, temp);
        } finally {
          writes.delete(w);
        }
      },
      commit: async (name) => {
        usable();
        state = 'committing'; // no more writes
        let path = temp;
        try {
          const h: Handle = { type, name };
          path = this.#path(h);
          const dir = this.#dir(h);
          await Promise.all(writes);
          throwIfAborted(signal);
          const fh = await handle();
          await fh.sync();
          closed = true;
          await fh.close();
          // Last chance to back out: after the rename the file is stored.
          throwIfAborted(signal);
          try {
            await rename(temp, path);
          } catch (err) {
            if (errnoCode(err) !== 'ENOENT') throw err;
            await mkdirPrivate(dir); // a data/xx folder dropped by a copy tool
            await rename(temp, path);
          }
          state = 'committed';
          await syncDir(dir);
        } catch (err) {
          // After the rename the file is stored; as with `save`, a failed folder fsync is reported, not undone.
          if (state === 'committed') throw ioError('write', path, err);
          return fail(err, path);
        }
      },
      discard,
    };
  }

  /**
   * Opens a new temp file. If the folder is missing, it is made (not its parents): copy tools such as rclone
   * drop empty folders, so a copied repository may lack some `data/xx`.
   */
  async #createTemp(temp: string, dir: string): Promise<FileHandle> {
    try {
      return await open(temp, 'wx', 0o600);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      await mkdirPrivate(dir);
      return await open(temp, 'wx', 0o600);
    }
  }

  async load(h: Handle, opts: LoadOptions = {}): Promise<Buffer> {
    const { offset = 0, length } = opts;
    const path = this.#path(h);
    checkRange(path, h, offset, length);
    const r = await this.reader(h, opts);
    try {
      if (length === undefined && opts.maxSize !== undefined && r.size > opts.maxSize) {
        throw new LifeboatError('CORRUPT', `${path} is ${r.size} bytes, larger than any such file Lifeboat writes (${opts.maxSize}): damaged or not Lifeboat's`, {
          context: { path, size: r.size },
          hint: 'run `lifeboat check`; `lifeboat repair index` replaces a damaged index file',
        });
      }
      return await r.read(offset, length ?? Math.max(0, r.size - offset), opts);
    } finally {
      await r.close();
    }
  }

  async reader(h: Handle, opts: OpOptions = {}): Promise<FileReader> {
    const path = this.#path(h);
    throwIfAborted(opts.signal);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw notFound(h, path, err);
      throw ioError('read', path, err);
    }
    let size: number;
    try {
      // Ranges are checked against this size before allocating, so a corrupt index asking for a huge range
      // fails cleanly. The open handle pins this version of the file even if a lock is replaced meanwhile.
      size = (await fh.stat()).size;
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw ioError('read', path, err);
    }
    let closed = false;
    return {
      size,
      read: async (offset, want, o = {}) => {
        checkRange(path, h, offset, want);
        throwIfAborted(o.signal);
        if (closed) throw new LifeboatError('BACKEND', `read of ${path} after it was closed`, { context: { ...h, path } });
        if (offset + want > size) throw truncated(path, offset, want, size);
        if (o.into && o.into.length < want) throw new LifeboatError('INTERNAL', `read of ${want} bytes into a buffer of ${o.into.length}`);
        const buf = o.into ? Buffer.from(o.into.buffer, o.into.byteOffset, want) : Buffer.allocUnsafe(want);
        try {
          for (let got = 0; got < want; ) {
            throwIfAborted(o.signal);
            const { bytesRead } = await fh.read(buf, got, Math.min(ioChunk, want - got), offset + got);
            if (bytesRead === 0) throw truncated(path, offset, want, offset + got);
            got += bytesRead;
          }
        } catch (err) {
          throw ioError('read', path, err);
        }
        return buf;
      },
      close: async () => {
        if (closed) return;
        closed = true;
        await fh.close().catch(() => undefined);
      },
    };
  }

  async stat(h: Handle, opts: OpOptions = {}): Promise<FileInfo> {
    const path = this.#path(h);
    throwIfAborted(opts.signal);
    try {
      const st = await stat(path);
      if (!st.isFile()) throw new Error('not a regular file');
      return { name: h.name, size: st.size };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw notFound(h, path, err);
      throw ioError('stat', path, err);
    }
  }

  /**
   * Lists complete files: names that are valid for the type (which excludes `.tmp-*`), regular files only.
   * A file removed between reading the folder and stat-ing it is skipped.
   */
  async *list(type: FileType, opts: OpOptions = {}): AsyncGenerator<FileInfo> {
    const { signal } = opts;
    throwIfAborted(signal);
    if (type === 'config') {
      try {
        yield await this.stat({ type, name: 'config' }, opts);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
      return;
    }
    if (type !== 'pack') {
      yield* await this.#listDir(type, join(this.#root, folders[type]), signal);
      return;
    }
    // The 256 pack folders are read 16 at a time (yielded in order): one after another, a cold listing
    // waited for the disk 256 times in a row, 0.18 s of every check and backup of the bench repository.
    const data = join(this.#root, folders.pack);
    const subs = (await this.#readdir(data)).filter((sub) => sub.isDirectory() && hexPair.test(sub.name)).map((sub) => sub.name);
    const ahead: Array<Promise<FileInfo[]>> = [];
    for (let i = 0, next = 0; i < subs.length; i++) {
      while (next < subs.length && next < i + packFoldersAhead) {
        const p = this.#listDir(type, join(data, subs[next]!), signal, subs[next]!);
        p.catch(() => undefined); // rejections surface when its turn comes
        ahead.push(p);
        next++;
      }
      yield* await ahead[i]!;
      ahead[i] = Promise.resolve([]);
    }
  }

  /** `prefix`: packs live in the subfolder named by their first two characters; others there are not packs. */
  async #listDir(type: FileType, dir: string, signal: AbortSignal | undefined, prefix?: string): Promise<FileInfo[]> {
    const names = (await this.#readdir(dir))
      .filter((e) => !e.isDirectory() && validName.test(e.name) && (type !== 'pack' || (packName.test(e.name) && e.name.startsWith(prefix ?? ''))))
      .map((e) => e.name);
    const out: FileInfo[] = [];
    for (let i = 0; i < names.length; i += statConcurrency) {
      throwIfAborted(signal);
      const batch = await Promise.all(
        names.slice(i, i + statConcurrency).map(async (name): Promise<FileInfo | undefined> => {
          const path = join(dir, name);
          try {
            const st = await stat(path);
            return st.isFile() ? { name, size: st.size } : undefined;
          } catch (err) {
            if (errnoCode(err) === 'ENOENT') return undefined;
            throw ioError('stat', path, err);
          }
        }),
      );
      for (const info of batch) if (info !== undefined) out.push(info);
    }
    return out;
  }

  /**
   * Reads a folder. A missing type folder lists as empty (copy tools drop empty folders) as long as the
   * repository itself is still there; if the config is gone too (an unmounted disk), that is an error, so
   * that nothing concludes from an empty list that snapshots or packs are unreferenced.
   */
  async #readdir(dir: string) {
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw ioError('list', dir, err);
      try {
        await stat(join(this.#root, 'config'));
      } catch {
        throw new LifeboatError('IO', `cannot list ${dir}: the repository at ${this.#root} is gone`, {
          hint: 'check that the disk holding the repository is mounted, then run the command again',
          cause: err,
          context: { path: dir },
        });
      }
      return [];
    }
  }

  /**
   * Removes a file. The folder is not fsynced: a removal lost in a crash only brings back a file that was
   * going away (an unreferenced pack, a lock that goes stale), which is safe, and prune removes many files.
   */
  async remove(h: Handle, opts: OpOptions = {}): Promise<void> {
    const path = this.#path(h);
    throwIfAborted(opts.signal);
    try {
      await unlink(path);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw notFound(h, path, err);
      throw ioError('remove', path, err);
    }
  }

  /** `.tmp-*` files in the root, the type folders, `data/` and `data/xx`, last modified before `before`. */
  async removeStale(before: number, opts: OpOptions = {}): Promise<number> {
    const data = join(this.#root, folders.pack);
    const dirs = [this.#root, ...Object.values(folders).map((f) => join(this.#root, f))];
    for (const sub of await this.#readdir(data)) if (sub.isDirectory() && hexPair.test(sub.name)) dirs.push(join(data, sub.name));
    let removed = 0;
    for (const dir of dirs) {
      throwIfAborted(opts.signal);
      for (const e of await this.#readdir(dir)) {
        if (!e.name.startsWith(tempPrefix) || !e.isFile()) continue;
        const path = join(dir, e.name);
        try {
          if ((await stat(path)).mtimeMs >= before) continue;
          await unlink(path);
          removed++;
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw ioError('remove', path, err);
        }
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }
}

function truncated(path: string, offset: number, length: number, size: number): LifeboatError {
  return new LifeboatError(
    'CORRUPT',
    `${path} is truncated: asked for ${length} bytes at offset ${offset} but the file has ${size} bytes`,
    {
      hint: 'run `lifeboat check --read-data` to find every damaged file',
      context: { path, offset, length, size },
    },
  );
}

/**
 * Opens the repository folder at `path`. Checks only that the folder exists; whether it holds a valid
 * config is the repository layer's business.
 */
export async function openLocal(path: string): Promise<LocalBackend> {
  const root = resolve(path);
  const missing = (why: string, cause?: unknown): LifeboatError =>
    new LifeboatError('REPO_NOT_FOUND', `no repository at ${root}: ${why}`, {
      hint: 'check the repository path, or create a repository there with `lifeboat init`',
      cause,
      context: { path: root },
    });
  let st;
  try {
    st = await stat(root);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw missing('the folder does not exist', err);
    throw ioError('stat', root, err);
  }
  if (!st.isDirectory()) throw missing('it is not a folder');
  return new LocalBackend(root);
}
