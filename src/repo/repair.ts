/**
 * Index repair. Packs are self-describing (their sealed header lists their blobs), so the index can always
 * be rebuilt from them.
 *
 * - `adoptPacks`: index packs that no index file mentions — left by a backup killed before it wrote its
 *   index, or described only by an index file that is damaged. A backup calls it first, so the data an
 *   interrupted backup stored is reused, not re-uploaded. The adopted packs are written to a new index file
 *   before anything can reference them, so a later prune never mistakes them for garbage.
 * - `rebuildIndex` (`lifeboat repair index`): a new index from every pack's header, replacing all index
 *   files. Entries into packs that are gone or whose header is damaged disappear with the old files, so the
 *   next backup stores that data again instead of deduplicating against it. With `readData`, every blob is
 *   also read and verified, and a damaged one is left out (its intact neighbours stay). New index files are
 *   written before any old one is removed: interrupted, it leaves duplicate entries (harmless), and running
 *   it again finishes the job.
 */
import { LifeboatError, throwIfAborted } from '../core/index.ts';
import { indexFileGroups } from './blob-index.ts';
import type { PackedBlob } from './pack.ts';
import { mapLimit, readPackHeaders, type Repository } from './repository.ts';
import { verifyPack } from './verify-pack.ts';

/** A pack's header (see Repository.readPackHeader). */
export async function readPackHeader(repo: Repository, pack: string, size: number, signal?: AbortSignal): Promise<PackedBlob[]> {
  return repo.readPackHeader(pack, size, signal);
}

export interface AdoptResult {
  adopted: number;
  damaged: string[];
}

export async function adoptPacks(repo: Repository, opts: { signal?: AbortSignal } = {}): Promise<AdoptResult> {
  const orphans: Array<{ name: string; size: number }> = [];
  for await (const f of repo.backend.list('pack', opts.signal ? { signal: opts.signal } : {})) {
    if (!repo.index.hasPack(f.name) || repo.packsFromHeaders.has(f.name)) orphans.push(f);
  }
  const { found, damaged } = await readPackHeaders(repo, orphans, opts.signal);
  for (const group of indexFileGroups(found)) {
    const name = await repo.saveIndexFile(group, opts.signal ? { signal: opts.signal } : {});
    repo.indexFiles.add(name);
    for (const p of group) {
      if (!repo.index.hasPack(p.id)) repo.index.addPack(p.id, p.blobs);
      repo.packsFromHeaders.delete(p.id);
    }
  }
  return { adopted: found.length, damaged: damaged.map((d) => d.name) };
}

export interface RebuildOptions {
  /** Read every pack whole and index only the blobs that verify (decrypt, decompress, id). */
  readData?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface RebuildResult {
  packs: number;
  blobs: number;
  /** Packs left out: header unreadable (or, reading data, the pack unreadable), with why. */
  damaged: string[];
  damagedReasons: Array<{ pack: string; reason: string }>;
  /** With readData: blobs left out of packs otherwise kept. */
  damagedBlobs: Array<{ pack: string; id: string; reason: string }>;
  /** Blobs the old index files placed in packs that are gone or left out. */
  entriesDropped: number;
  indexFilesRemoved: number;
  indexFilesWritten: number;
}

export async function rebuildIndex(repo: Repository, opts: RebuildOptions = {}): Promise<RebuildResult> {
  const signal = opts.signal;
  const packs: Array<{ name: string; size: number }> = [];
  for await (const f of repo.backend.list('pack', signal ? { signal } : {})) packs.push(f);
  // How many blobs the old index files place in each pack, to say how many entries the rebuild drops
  // (a damaged file counts as none).
  const old = await repo.listNames('index', signal);
  const claimed = new Map<string, number>();
  await mapLimit(old, 8, async (name) => {
    try {
      const ip = await repo.loadIndexFile(name, signal ? { signal } : {});
      ip.packs.forEach((pack, k) => claimed.set(pack, Math.max(claimed.get(pack) ?? 0, ip.counts[k]!)));
    } catch (err) {
      if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
    }
  });
  let done = 0;
  const found: Array<{ id: string; blobs: PackedBlob[] }> = [];
  const damagedReasons: Array<{ pack: string; reason: string }> = [];
  const damagedBlobs: RebuildResult['damagedBlobs'] = [];
  if (opts.readData) {
    // One pack at a time per slot, whole: repair is rare, and a damaged pack is best judged whole.
    await mapLimit(packs, 2, async (f) => {
      throwIfAborted(signal);
      try {
        const header = await repo.readPackHeader(f.name, f.size, signal);
        const bytes = await repo.backend.load({ type: 'pack', name: f.name }, signal ? { signal } : {});
        const verdict = verifyPack(repo.master, f.name, bytes, header, f.size);
        const bad = new Map(verdict.damaged);
        for (const [id, reason] of bad) damagedBlobs.push({ pack: f.name, id, reason });
        const good = header.filter((b) => !bad.has(b.id));
        if (good.length > 0) found.push({ id: f.name, blobs: good });
        else damagedReasons.push({ pack: f.name, reason: 'no blob in it is intact' });
      } catch (err) {
        if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
        damagedReasons.push({ pack: f.name, reason: (err as Error).message });
      }
      opts.onProgress?.({ done: ++done, total: packs.length });
    });
    found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  } else {
    const r = await readPackHeaders(repo, packs, signal);
    found.push(...r.found);
    damagedReasons.push(...r.damaged.map((d) => ({ pack: d.name, reason: d.reason })));
    opts.onProgress?.({ done: packs.length, total: packs.length });
  }
  const kept = new Set(found.map((p) => p.id));
  let entriesDropped = damagedBlobs.length;
  for (const [pack, n] of claimed) if (!kept.has(pack)) entriesDropped += n;
  const groups = indexFileGroups(found);
  // An empty index file when no pack could be read: the old ones are removed all the same.
  const written = new Set<string>();
  for (const group of groups.length > 0 ? groups : [[]]) {
    throwIfAborted(signal);
    written.add(await repo.saveIndexFile(group, signal ? { signal } : {}));
  }
  // Only the files that were there before this rebuild started.
  let removed = 0;
  for (const name of old) {
    if (written.has(name)) continue;
    throwIfAborted(signal);
    await repo.backend.remove({ type: 'index', name });
    removed++;
  }
  damagedReasons.sort((a, b) => (a.pack < b.pack ? -1 : 1));
  return {
    packs: found.length,
    blobs: found.reduce((a, p) => a + p.blobs.length, 0),
    damaged: damagedReasons.map((d) => d.pack),
    damagedReasons,
    damagedBlobs,
    entriesDropped,
    indexFilesRemoved: removed,
    indexFilesWritten: groups.length > 0 ? groups.length : 1,
  };
}
