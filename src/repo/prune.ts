/**
 * forget and prune: remove snapshots by a retention policy, then the data no snapshot needs.
 *
 * prune holds the exclusive lock, so no backup can add references while it decides what is unused
 * (kopia #4769's "BLOB not found" is a prune racing a backup). It marks every blob reachable from every
 * snapshot; a snapshot that cannot be read stops the prune (its blobs would look unused).
 * Then, in an order that is safe at every instant:
 *   1. used blobs of partly-used packs are copied into new packs (repack);
 *   2. a new index describing exactly the kept and new packs is written;
 *   3. the old index files are removed;
 *   4. unused, repacked and unindexed packs are removed.
 * A crash after 2 leaves duplicate index entries (harmless); after 3, orphan packs (the next prune removes them).
 */
import { defaults, LifeboatError, NotFoundError, throwIfAborted } from '../core/index.ts';
import { indexFileGroups, packsOf } from './blob-index.ts';
import { BlobWriter } from './blob-writer.ts';
import { Lock } from './lock.ts';
import type { PackedBlob } from './pack.ts';
import { mapLimit, type Repository } from './repository.ts';
import { loadSnapshots, matchesFilter, type SnapshotEntry, type SnapshotFilter } from './snapshot.ts';
import { applyPolicy, groupSnapshots, policyIsEmpty, type GroupBy, type RetentionPolicy } from './retention.ts';
import { decodeTree } from './tree.ts';

export interface PruneOptions {
  dryRun?: boolean;
  /** Repack a partly used pack when at least this fraction of its bytes is unused. Default 0.05. */
  repackThreshold?: number;
  signal?: AbortSignal;
  onProgress?: (p: { phase: 'mark' | 'repack' | 'delete'; done: number; total: number }) => void;
  /** The caller already holds the exclusive lock. */
  noLock?: boolean;
}

export interface PruneResult {
  dryRun: boolean;
  packsBefore: number;
  packsRemoved: number;
  packsRepacked: number;
  packsWritten: number;
  unindexedPacksRemoved: number;
  blobsRemoved: number;
  bytesBefore: number;
  bytesFreed: number;
  indexFilesReplaced: number;
  /** Temp files left by writes a crash cut short (a backup killed while writing packs), removed. */
  tempFilesRemoved: number;
}

export async function prune(repo: Repository, opts: PruneOptions = {}): Promise<PruneResult> {
  const lock = opts.noLock ? undefined : await Lock.acquire(repo, { exclusive: true, purpose: 'prune' });
  try {
    return await pruneLocked(repo, opts);
  } finally {
    await lock?.release();
  }
}

async function pruneLocked(repo: Repository, opts: PruneOptions): Promise<PruneResult> {
  const signal = opts.signal;
  const threshold = opts.repackThreshold ?? 0.05;

  // Everything on the backend and in the index, per pack.
  const sizes = new Map<string, number>();
  for await (const f of repo.backend.list('pack', signal ? { signal } : {})) sizes.set(f.name, f.size);
  const indexNames = await repo.listNames('index', signal);
  const packs = new Map<string, PackedBlob[]>();
  await mapLimit(indexNames, 8, async (name) => {
    let filePacks: ReturnType<typeof packsOf>;
    try {
      filePacks = packsOf(await repo.loadIndexFile(name, signal ? { signal } : {}));
    } catch (err) {
      throw new LifeboatError('INTEGRITY', `prune stopped: index file ${name} cannot be read (${(err as Error).message})`, {
        hint: 'the packs it describes would look unused: run `lifeboat repair index` first',
        cause: err,
      });
    }
    for (const p of filePacks) {
      repo.index.addPack(p.id, p.blobs);
      if (!packs.has(p.id)) packs.set(p.id, p.blobs);
    }
    repo.indexFiles.add(name);
  });
  for (const id of packs.keys()) {
    if (!sizes.has(id)) {
      throw new LifeboatError('INTEGRITY', `prune stopped: pack ${id} is in the index but missing`, {
        hint: 'run `lifeboat check` to see what it affects, then `lifeboat repair index`',
      });
    }
  }

  // Mark.
  const used = new Set<string>();
  const snaps = await loadSnapshots(repo, {
    ...(signal ? { signal } : {}),
    onError: (id, err) => {
      throw new LifeboatError('INTEGRITY', `prune stopped: snapshot ${id} cannot be read (${(err as Error).message})`, {
        hint: `its data would look unused; run \`lifeboat check\`, and \`lifeboat forget ${id.slice(0, 8)}\` if it is lost`,
      });
    },
  });
  let marked = 0;
  const mark = async (treeId: string): Promise<void> => {
    if (used.has(treeId)) return;
    throwIfAborted(signal);
    const tree = decodeTree(await repo.loadBlob('tree', treeId, signal), treeId);
    used.add(treeId);
    opts.onProgress?.({ phase: 'mark', done: ++marked, total: 0 });
    // Conservative: whatever an entry names is kept, also for entries a restore would refuse.
    for (const n of tree.nodes as unknown[]) {
      if (typeof n !== 'object' || n === null) continue;
      const { content, subtree } = n as { content?: unknown; subtree?: unknown };
      if (Array.isArray(content)) for (const c of content) if (typeof c === 'string') used.add(c);
      if (typeof subtree === 'string') await mark(subtree);
    }
  };
  for (const s of snaps) await mark(s.tree);
  // A chunk a snapshot uses that no index file places: its pack would look unused (or unindexed) and go.
  // (Reading a tree may have found it through a pack's header: that pack is in no index file either.)
  for (const id of used) {
    if (!repo.index.has(id) || repo.packsFromHeaders.has(repo.index.get(id)!.pack)) {
      throw new LifeboatError('INTEGRITY', `prune stopped: blob ${id}, which a snapshot uses, is in no index file`, {
        hint: 'run `lifeboat repair index` (it indexes every pack from its header), then `lifeboat check`',
      });
    }
  }

  // Decide, pack by pack. A blob stored twice is kept only in the pack the index names first.
  const remove: string[] = [];
  const repack: string[] = [];
  const keep: string[] = [];
  let blobsRemoved = 0;
  let bytesFreed = 0;
  const copyFrom = new Map<string, PackedBlob[]>();
  for (const [id, blobs] of packs) {
    const live = blobs.filter((b) => used.has(b.id) && repo.index.get(b.id)?.pack === id);
    const size = sizes.get(id) ?? 0;
    if (live.length === 0) {
      remove.push(id);
      blobsRemoved += blobs.length;
      bytesFreed += size;
      continue;
    }
    const liveBytes = live.reduce((a, b) => a + b.length, 0);
    const deadBytes = blobs.reduce((a, b) => a + b.length, 0) - liveBytes;
    if (deadBytes > 0 && deadBytes >= threshold * size) {
      repack.push(id);
      copyFrom.set(id, live);
      blobsRemoved += blobs.length - live.length;
      bytesFreed += size - liveBytes;
    } else {
      keep.push(id);
    }
  }
  const unindexed = [...sizes.keys()].filter((id) => !packs.has(id));
  for (const id of unindexed) bytesFreed += sizes.get(id)!;

  const result: PruneResult = {
    dryRun: !!opts.dryRun,
    packsBefore: sizes.size,
    packsRemoved: remove.length,
    packsRepacked: repack.length,
    packsWritten: 0,
    unindexedPacksRemoved: unindexed.length,
    blobsRemoved,
    bytesBefore: [...sizes.values()].reduce((a, b) => a + b, 0),
    bytesFreed,
    indexFilesReplaced: 0,
    tempFilesRemoved: 0,
  };
  // Under the exclusive lock no backup is writing; the age is a second safeguard (a lock goes stale first).
  if (!opts.dryRun) result.tempFilesRemoved = await repo.backend.removeStale(repo.clock.now() - defaults.lockStaleMs, signal ? { signal } : {});
  if (opts.dryRun || (remove.length === 0 && repack.length === 0 && unindexed.length === 0)) return result;

  // 1. Repack: copy live blobs, still sealed, into new packs (no re-encryption; each is verified first).
  const writer = new BlobWriter(repo, { writeIndex: false, ...(signal ? { signal } : {}) });
  let r = 0;
  try {
    for (const id of repack) {
      throwIfAborted(signal);
      const live = copyFrom.get(id)!;
      const bytes = await repo.backend.load({ type: 'pack', name: id }, { maxSize: defaults.wholeFileMaxBytes, ...(signal ? { signal } : {}) });
      for (const b of live) {
        const sealed = bytes.subarray(b.offset, b.offset + b.length);
        repo.decodeBlob({ ...b, pack: id }, sealed); // never copy damage forward
        await writer.add(b.type, b.id, sealed, b.rawLength, b.compression);
      }
      opts.onProgress?.({ phase: 'repack', done: ++r, total: repack.length });
    }
    await writer.flush();
  } catch (err) {
    await writer.discard(); // no half-written packs left behind
    throw err;
  }
  result.packsWritten = writer.saved.length;

  // 2. New index: kept packs + new packs.
  const all = [...keep.map((id) => ({ id, blobs: packs.get(id)! })), ...writer.saved];
  for (const group of indexFileGroups(all)) {
    await repo.saveIndexFile(group, signal ? { signal } : {});
  }
  // 3. Old index files.
  for (const name of indexNames) await repo.backend.remove({ type: 'index', name });
  result.indexFilesReplaced = indexNames.length;
  // 4. Packs.
  const gone = [...remove, ...repack, ...unindexed];
  let d = 0;
  await mapLimit(gone, 4, async (id) => {
    await repo.backend.remove({ type: 'pack', name: id });
    opts.onProgress?.({ phase: 'delete', done: ++d, total: gone.length });
  });
  return result;
}

export interface ForgetOptions {
  dryRun?: boolean;
  groupBy?: GroupBy;
  filter?: SnapshotFilter;
  /** Run prune afterwards (under the same exclusive lock). */
  prune?: boolean | PruneOptions;
  signal?: AbortSignal;
  /** Remove exactly these snapshot files (full ids; damaged ones too) instead of applying a policy. */
  ids?: readonly string[];
}

export interface ForgetGroup {
  key: { hostname?: string; paths?: string[]; tags?: string[] };
  keep: Array<{ snapshot: SnapshotEntry; reasons: string[] }>;
  remove: SnapshotEntry[];
}

export interface ForgetResult {
  groups: ForgetGroup[];
  removed: string[];
  prune?: PruneResult;
}

export async function forget(repo: Repository, policy: RetentionPolicy, opts: ForgetOptions = {}): Promise<ForgetResult> {
  if (opts.ids !== undefined && !policyIsEmpty(policy)) {
    throw new LifeboatError('USAGE', 'give snapshot ids or --keep-* rules, not both');
  }
  if (opts.ids === undefined && policyIsEmpty(policy)) {
    throw new LifeboatError('USAGE', 'refusing to forget every snapshot: no keep rule given', {
      hint: 'give at least one --keep-* option, e.g. --keep-daily 7',
    });
  }
  // Forgetting only deletes snapshot files: the data stays until prune, which is exclusive. So a plain forget
  // shares the repository with backups, checks and restores (they skip a snapshot that vanishes between
  // listing and reading), and one group's retention never waits for another group's long check.
  const lock = opts.dryRun ? undefined : await Lock.acquire(repo, { exclusive: !!opts.prune, purpose: 'forget' });
  try {
    if (opts.ids !== undefined) {
      const present = new Set(await repo.listNames('snapshot', opts.signal));
      const missing = opts.ids.filter((id) => !present.has(id));
      if (missing.length) throw new NotFoundError(`no snapshot ${missing.map((m) => m.slice(0, 8)).join(', ')}`, { hint: 'list them with `lifeboat snapshots`' });
      if (!opts.dryRun) for (const id of opts.ids) await removeSnapshot(repo, id);
      const result: ForgetResult = { groups: [], removed: [...opts.ids] };
      if (opts.prune) {
        const po = typeof opts.prune === 'object' ? opts.prune : {};
        result.prune = await prune(repo, { ...po, dryRun: !!opts.dryRun, noLock: true, ...(opts.signal ? { signal: opts.signal } : {}) });
      }
      return result;
    }
    const snaps = (await loadSnapshots(repo, opts.signal ? { signal: opts.signal } : {})).filter((s) => matchesFilter(s, opts.filter ?? {}));
    const groups: ForgetGroup[] = [];
    for (const g of groupSnapshots(snaps, opts.groupBy ?? { host: true, paths: true, tags: false })) {
      const r = applyPolicy(g.snapshots, policy, repo.clock);
      groups.push({ key: g.key, keep: r.keep, remove: r.remove });
    }
    const removed: string[] = [];
    if (!opts.dryRun) {
      for (const g of groups) {
        for (const s of g.remove) {
          if (await removeSnapshot(repo, s.id)) removed.push(s.id);
        }
      }
    } else {
      for (const g of groups) for (const s of g.remove) removed.push(s.id);
    }
    const result: ForgetResult = { groups, removed };
    if (opts.prune) {
      const po = typeof opts.prune === 'object' ? opts.prune : {};
      result.prune = await prune(repo, { ...po, dryRun: !!opts.dryRun, noLock: true, ...(opts.signal ? { signal: opts.signal } : {}) });
    }
    return result;
  } finally {
    await lock?.release();
  }
}

/** Removes a snapshot file; false if it was already gone (a forget running beside this one took it). */
async function removeSnapshot(repo: Repository, id: string): Promise<boolean> {
  try {
    await repo.backend.remove({ type: 'snapshot', name: id });
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}
