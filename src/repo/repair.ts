/**
 * Index repair. Packs are self-describing (their sealed header lists their blobs), so the index can always
 * be rebuilt from them.
 *
 * - `adoptPacks`: index packs that no index file mentions — left by a backup killed before it wrote its
 *   index. A backup calls it first, so the data an interrupted backup stored is reused, not re-uploaded.
 *   The adopted packs are written to a new index file before anything can reference them, so a later
 *   prune never mistakes them for garbage.
 * - `rebuildIndex`: a new index from every pack's header, replacing all index files (after a damaged or
 *   lost index file).
 */
import { compareStrings, LifeboatError } from '../core/index.ts';
import { indexFileGroups } from './blob-index.ts';
import { parseHeader, type PackedBlob } from './pack.ts';
import { mapLimit, type Repository } from './repository.ts';

/** Read a pack's header (one ranged read of its tail, a second if the header is larger than guessed). */
export async function readPackHeader(repo: Repository, pack: string, size: number, signal?: AbortSignal): Promise<PackedBlob[]> {
  let want = Math.min(size, 64 * 1024);
  for (;;) {
    const tail = await repo.backend.load({ type: 'pack', name: pack }, { offset: size - want, length: want, ...(signal ? { signal } : {}) });
    const r = parseHeader(repo.master, tail, size, pack);
    if (Array.isArray(r)) return r;
    want = r.need;
  }
}

/** Headers of many packs, four at a time; packs whose header cannot be read are returned as damaged. */
async function readHeaders(repo: Repository, packs: Array<{ name: string; size: number }>, signal?: AbortSignal): Promise<{ found: Array<{ id: string; blobs: PackedBlob[] }>; damaged: string[] }> {
  const found: Array<{ id: string; blobs: PackedBlob[] }> = [];
  const damaged: string[] = [];
  await mapLimit(packs, 4, async (f) => {
    try {
      found.push({ id: f.name, blobs: await readPackHeader(repo, f.name, f.size, signal) });
    } catch (err) {
      if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
      damaged.push(f.name);
    }
  });
  found.sort((a, b) => compareStrings(a.id, b.id));
  return { found, damaged: damaged.sort() };
}

export interface AdoptResult {
  adopted: number;
  damaged: string[];
}

export async function adoptPacks(repo: Repository, opts: { signal?: AbortSignal } = {}): Promise<AdoptResult> {
  const orphans: Array<{ name: string; size: number }> = [];
  for await (const f of repo.backend.list('pack', opts.signal ? { signal: opts.signal } : {})) {
    if (!repo.index.hasPack(f.name)) orphans.push(f);
  }
  const { found, damaged } = await readHeaders(repo, orphans, opts.signal);
  for (const group of indexFileGroups(found)) {
    const name = await repo.saveIndexFile(group, opts.signal ? { signal: opts.signal } : {});
    repo.indexFiles.add(name);
    for (const p of group) repo.index.addPack(p.id, p.blobs);
  }
  return { adopted: found.length, damaged };
}

export interface RebuildResult {
  packs: number;
  blobs: number;
  damaged: string[];
  indexFilesRemoved: number;
}

export async function rebuildIndex(repo: Repository, opts: { signal?: AbortSignal } = {}): Promise<RebuildResult> {
  const packs: Array<{ name: string; size: number }> = [];
  for await (const f of repo.backend.list('pack', opts.signal ? { signal: opts.signal } : {})) packs.push(f);
  const { found, damaged } = await readHeaders(repo, packs, opts.signal);
  const old = await repo.listNames('index', opts.signal);
  const groups = indexFileGroups(found);
  // An empty index file when no pack could be read: the old ones are removed all the same.
  for (const group of groups.length > 0 ? groups : [[]]) {
    await repo.saveIndexFile(group, opts.signal ? { signal: opts.signal } : {});
  }
  for (const name of old) await repo.backend.remove({ type: 'index', name });
  return { packs: found.length, blobs: found.reduce((a, p) => a + p.blobs.length, 0), damaged, indexFilesRemoved: old.length };
}
