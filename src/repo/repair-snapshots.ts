/**
 * `lifeboat repair snapshots`: rewrite snapshots that cannot be restored whole into ones that can, saying
 * what was lost.
 *
 * It judges against the index, so `repair index` comes first, and a backup of what still exists before it
 * (a backup stores lost data anew and so heals every snapshot that names it; only what cannot be stored
 * again needs this). In each snapshot's trees:
 *   - a file whose content names a blob the index lacks is left out;
 *   - a folder whose tree cannot be read becomes an empty folder marked `incomplete` (so `restore --delete`
 *     never takes its emptiness for the truth);
 *   - an entry a restore refuses (treeProblems) is left out, but for a symlink holding entries (what
 *     backups of a path below a symlinked folder wrote before 2026-12-07), which becomes the folder it
 *     stood for.
 * Unchanged trees keep their ids, so only the path from a change up to the root is written again. A
 * repaired snapshot keeps the original's time, host, paths and tags, adds the tag `repaired`, names the
 * original (`original`) and lists what was lost (`repair`). Originals stay unless `forget` is given; an
 * unreadable snapshot file can only be removed (with `forget`). Interrupted, it leaves at most unused trees
 * (prune removes them) or a repaired snapshot beside its original: running it again finishes the job.
 */
import { LifeboatError, throwIfAborted } from '../core/index.ts';
import { BlobWriter } from './blob-writer.ts';
import type { Repository } from './repository.ts';
import { loadSnapshots, saveSnapshot, type Snapshot, type SnapshotEntry } from './snapshot.ts';
import { encodeTree, loadTree, nodeProblem, type TreeNode } from './tree.ts';

/** Lost paths listed in a repaired snapshot; the count covers the rest. */
const LOST_LISTED = 1000;

export interface RepairSnapshotsOptions {
  /** Only these snapshots (default: all). */
  snapshots?: readonly SnapshotEntry[];
  /** Remove the originals of repaired snapshots, and snapshot files that cannot be read. */
  forget?: boolean;
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface LostEntry {
  path: string;
  reason: string;
}

export interface RepairedSnapshot {
  original: string;
  /** The new snapshot's id (absent on a dry run). */
  id?: string;
  lost: LostEntry[];
  lostCount: number;
  /** Symlinks holding entries, now folders. */
  converted: string[];
}

export interface RepairSnapshotsResult {
  repaired: RepairedSnapshot[];
  /** Snapshots that needed nothing. */
  intact: number;
  /** Snapshot files that cannot be read (removed with `forget`). */
  unreadable: Array<{ id: string; reason: string; removed: boolean }>;
  /** Originals removed (with `forget`). */
  forgotten: string[];
}

/** What one tree became: its new id, and what was lost or converted below it (paths relative to it). */
interface Rewritten {
  id: string;
  lost: LostEntry[];
  converted: string[];
}

export async function repairSnapshots(repo: Repository, opts: RepairSnapshotsOptions = {}): Promise<RepairSnapshotsResult> {
  const signal = opts.signal;
  const unreadable: RepairSnapshotsResult['unreadable'] = [];
  const everything = await loadSnapshots(repo, {
    ...(signal ? { signal } : {}),
    onError: (id, err) => unreadable.push({ id, reason: (err as Error).message, removed: false }),
  });
  const all = opts.snapshots ?? everything;
  if (opts.snapshots !== undefined) unreadable.length = 0; // only when every snapshot is considered
  // Originals already repaired (a run before this one, perhaps interrupted before it removed them): not
  // repaired twice; with `forget`, removed now.
  const repairedAlready = new Set(everything.flatMap((s) => (s.original !== undefined ? [s.original] : [])));
  const writer = new BlobWriter(repo, signal ? { signal } : {});
  // A dry run names the trees it would write without writing them.
  const storeTree = (nodes: TreeNode[]): Promise<string> => {
    const plain = encodeTree(nodes);
    return opts.dryRun ? Promise.resolve(repo.blobId(plain, 'tree')) : writer.store('tree', plain);
  };
  const memo = new Map<string, Promise<Rewritten>>();

  const rewrite = (treeId: string): Promise<Rewritten> => {
    let p = memo.get(treeId);
    if (!p) memo.set(treeId, (p = rewriteTree(treeId)));
    return p;
  };

  const rewriteTree = async (treeId: string): Promise<Rewritten> => {
    throwIfAborted(signal);
    const tree = await loadTree(repo, treeId, signal); // a failure is the caller's to record
    const lost: LostEntry[] = [];
    const converted: string[] = [];
    const nodes: TreeNode[] = [];
    const seen = new Set<string>();
    let changed = false;
    for (const original of tree.nodes) {
      let node = original;
      let problem = nodeProblem(node);
      if (problem !== undefined && node?.type === 'symlink' && typeof node.subtree === 'string' && problem.endsWith('with entries stored beneath it')) {
        node = asFolder(node);
        problem = nodeProblem(node);
        if (problem === undefined) {
          converted.push(node.name);
          changed = true;
        }
      }
      const label = typeof node?.name === 'string' ? node.name : JSON.stringify(node?.name) ?? '?';
      if (problem === undefined && seen.has(node.name)) problem = 'a second entry with the same name';
      if (problem !== undefined) {
        lost.push({ path: label, reason: `refused by restore: ${problem}` });
        changed = true;
        continue;
      }
      seen.add(node.name);
      if (node.type === 'file') {
        const missing = (node.content ?? []).filter((id) => !repo.index.has(id));
        if (missing.length > 0) {
          lost.push({ path: node.name, reason: `${missing.length} of ${node.content!.length} chunks are lost` });
          changed = true;
          continue;
        }
        nodes.push(node);
        continue;
      }
      if (node.type === 'dir') {
        let sub: Rewritten;
        try {
          sub = await rewrite(node.subtree!);
        } catch (err) {
          if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
          lost.push({ path: node.name, reason: `the folder's contents cannot be read: ${(err as Error).message}` });
          nodes.push({ ...withoutSubtree(node), incomplete: true, subtree: await storeTree([]) });
          changed = true;
          continue;
        }
        for (const l of sub.lost) lost.push({ path: `${node.name}/${l.path}`, reason: l.reason });
        for (const c of sub.converted) converted.push(`${node.name}/${c}`);
        if (sub.id !== node.subtree) {
          // A folder that lost entries is not complete any more: `restore --delete` must not act on it.
          const incomplete = node.incomplete === true || sub.lost.some((l) => !l.path.includes('/'));
          nodes.push({ ...withoutSubtree(node), ...(incomplete ? { incomplete: true } : {}), subtree: sub.id });
          changed = true;
        } else {
          nodes.push(node);
        }
        continue;
      }
      nodes.push(node);
    }
    if (!changed) return { id: treeId, lost, converted };
    return { id: await storeTree(nodes), lost, converted };
  };

  const result: RepairSnapshotsResult = { repaired: [], intact: 0, unreadable, forgotten: [] };
  const plans: Array<{ snap: SnapshotEntry; root: Rewritten }> = [];
  let done = 0;
  try {
    for (const snap of all) {
      throwIfAborted(signal);
      if (repairedAlready.has(snap.id)) {
        if (opts.forget && !opts.dryRun) {
          await repo.backend.remove({ type: 'snapshot', name: snap.id });
          result.forgotten.push(snap.id);
        }
        opts.onProgress?.({ done: ++done, total: all.length });
        continue;
      }
      let root: Rewritten;
      try {
        root = await rewrite(snap.tree);
      } catch (err) {
        if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
        // Nothing of it can be read: an empty snapshot saying so is all there is to keep.
        root = { id: await storeTree([]), lost: [{ path: '', reason: `the snapshot's root tree cannot be read: ${(err as Error).message}` }], converted: [] };
      }
      opts.onProgress?.({ done: ++done, total: all.length });
      if (root.id === snap.tree) result.intact++;
      else plans.push({ snap, root });
    }
    if (opts.dryRun) {
      await writer.discard();
    } else {
      // Every new tree is durable (and indexed) before any snapshot names it.
      await writer.flush();
    }
  } catch (err) {
    await writer.discard();
    throw err;
  }
  for (const { snap, root } of plans) {
    const lost = root.lost.map((l) => ({ path: l.path === '' ? '/' : `/${l.path}`, reason: l.reason }));
    const entry: RepairedSnapshot = { original: snap.id, lost: lost.slice(0, LOST_LISTED), lostCount: lost.length, converted: root.converted.map((c) => `/${c}`) };
    if (!opts.dryRun) {
      const { id: _id, short_id: _short, ...fields } = snap;
      const repaired: Snapshot = {
        ...fields,
        tree: root.id,
        tags: [...new Set([...(snap.tags ?? []), 'repaired'])],
        original: snap.id,
        repair: {
          time: new Date(repo.clock.now()).toISOString(),
          lost_count: lost.length,
          lost: lost.slice(0, LOST_LISTED),
          ...(entry.converted.length ? { converted: entry.converted.slice(0, LOST_LISTED) } : {}),
        },
      };
      entry.id = await saveSnapshot(repo, repaired, signal);
      if (opts.forget) {
        await repo.backend.remove({ type: 'snapshot', name: snap.id });
        result.forgotten.push(snap.id);
      }
    }
    result.repaired.push(entry);
  }
  if (opts.forget && !opts.dryRun) {
    for (const u of unreadable) {
      await repo.backend.remove({ type: 'snapshot', name: u.id });
      u.removed = true;
    }
  }
  return result;
}

function withoutSubtree(n: TreeNode): TreeNode {
  const { subtree: _s, incomplete: _i, ...rest } = n;
  return rest;
}

/** A symlink that holds entries, as the folder it stood for: its metadata, without what only links have. */
function asFolder(n: TreeNode): TreeNode {
  const { linktarget: _t, linktarget_raw: _r, size: _z, atime: _a, content: _c, subtree, ...rest } = n;
  return { ...rest, type: 'dir', mode: 0o755, subtree: subtree! };
}
