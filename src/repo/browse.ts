/** Reading snapshots as trees: differences between two snapshots, and repository statistics. */
import type { Repository } from './repository.ts';
import type { SnapshotEntry } from './snapshot.ts';
import { loadTree, validName, type TreeNode } from './tree.ts';

export type ChangeKind = '+' | '-' | 'M' | 'T' | 'U';

export interface DiffEntry {
  path: string;
  /** + added, - removed, M content changed, T type changed, U metadata only. */
  change: ChangeKind;
  type: string;
}

export interface DiffResult {
  changes: DiffEntry[];
  stats: { added: number; removed: number; modified: number; addedBytes: number; removedBytes: number };
}

function sameMeta(a: TreeNode, b: TreeNode): boolean {
  return (
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.mtime === b.mtime &&
    a.linktarget === b.linktarget &&
    JSON.stringify(a.xattrs ?? {}) === JSON.stringify(b.xattrs ?? {})
  );
}

function sameContent(a: TreeNode, b: TreeNode): boolean {
  const x = a.content ?? [];
  const y = b.content ?? [];
  return x.length === y.length && x.every((id, i) => id === y[i]);
}

/** Differences from snapshot `a` to snapshot `b`. Identical subtrees are skipped by id, unread. */
export async function diffSnapshots(repo: Repository, a: SnapshotEntry, b: SnapshotEntry, signal?: AbortSignal): Promise<DiffResult> {
  const changes: DiffEntry[] = [];
  const stats = { added: 0, removed: 0, modified: 0, addedBytes: 0, removedBytes: 0 };
  const sizeOf = (n: TreeNode): number => n.size ?? 0;
  const whole = async (n: TreeNode, path: string, change: '+' | '-'): Promise<void> => {
    changes.push({ path, change, type: n.type });
    if (change === '+') {
      stats.added++;
      stats.addedBytes += sizeOf(n);
    } else {
      stats.removed++;
      stats.removedBytes += sizeOf(n);
    }
    if (n.type === 'dir' && n.subtree) {
      for (const c of (await loadTree(repo, n.subtree, signal)).nodes) {
        if (validName(c.name)) await whole(c, `${path}/${c.name}`, change);
      }
    }
  };
  const walk = async (ta: string | undefined, tb: string | undefined, prefix: string): Promise<void> => {
    if (ta === tb) return;
    const na = ta ? (await loadTree(repo, ta, signal)).nodes.filter((n) => validName(n.name)) : [];
    const nb = tb ? (await loadTree(repo, tb, signal)).nodes.filter((n) => validName(n.name)) : [];
    const mb = new Map(nb.map((n) => [n.name, n]));
    const ma = new Map(na.map((n) => [n.name, n]));
    const names = [...new Set([...ma.keys(), ...mb.keys()])].sort();
    for (const name of names) {
      const x = ma.get(name);
      const y = mb.get(name);
      const path = `${prefix}/${name}`;
      if (x && !y) await whole(x, path, '-');
      else if (!x && y) await whole(y, path, '+');
      else if (x && y) {
        if (x.type !== y.type) {
          changes.push({ path, change: 'T', type: y.type });
          stats.modified++;
          continue;
        }
        if (x.type === 'dir') {
          if (!sameMeta(x, y)) changes.push({ path, change: 'U', type: 'dir' });
          await walk(x.subtree, y.subtree, path);
        } else if (!sameContent(x, y)) {
          changes.push({ path, change: 'M', type: y.type });
          stats.modified++;
          stats.addedBytes += sizeOf(y);
          stats.removedBytes += sizeOf(x);
        } else if (!sameMeta(x, y)) {
          changes.push({ path, change: 'U', type: y.type });
        }
      }
    }
  };
  await walk(a.tree, b.tree, '');
  return { changes, stats };
}

export interface RepoStats {
  snapshots: number;
  /** Files and bytes a full restore of every snapshot would write. */
  totalFiles: number;
  restoreSize: number;
  /** Distinct chunks referenced, and their plaintext size (what dedup leaves). */
  uniqueBlobs: number;
  uniqueSize: number;
  /** Bytes of all pack files on the backend (compressed, encrypted). */
  storedSize: number;
  packs: number;
  /** restoreSize / uniqueSize. */
  dedupRatio: number;
  /** uniqueSize / storedSize. */
  compressionRatio: number;
}

export async function repoStats(repo: Repository, snaps: SnapshotEntry[], signal?: AbortSignal): Promise<RepoStats> {
  await repo.loadIndex(signal ? { signal } : {});
  let totalFiles = 0;
  let restoreSize = 0;
  const unique = new Set<string>();
  // Per-tree totals are memoized: a subtree shared by many snapshots is read once.
  const memo = new Map<string, { files: number; bytes: number }>();
  const visit = async (treeId: string): Promise<{ files: number; bytes: number }> => {
    const m = memo.get(treeId);
    if (m) return m;
    const t = await loadTree(repo, treeId, signal);
    unique.add(treeId);
    const r = { files: 0, bytes: 0 };
    for (const n of t.nodes) {
      if (n.type === 'dir' && n.subtree) {
        const s = await visit(n.subtree);
        r.files += s.files;
        r.bytes += s.bytes;
      } else {
        r.files++;
        if (n.type === 'file') r.bytes += n.size ?? 0;
        for (const c of n.content ?? []) unique.add(c);
      }
    }
    memo.set(treeId, r);
    return r;
  };
  for (const s of snaps) {
    const r = await visit(s.tree);
    totalFiles += r.files;
    restoreSize += r.bytes;
  }
  let uniqueSize = 0;
  for (const id of unique) uniqueSize += repo.index.get(id)?.rawLength ?? 0;
  let storedSize = 0;
  let packs = 0;
  for await (const f of repo.backend.list('pack', signal ? { signal } : {})) {
    storedSize += f.size;
    packs++;
  }
  return {
    snapshots: snaps.length,
    totalFiles,
    restoreSize,
    uniqueBlobs: unique.size,
    uniqueSize,
    storedSize,
    packs,
    dedupRatio: uniqueSize ? restoreSize / uniqueSize : 0,
    compressionRatio: storedSize ? uniqueSize / storedSize : 0,
  };
}
