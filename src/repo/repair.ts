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
 *   also read and verified; a pack that is not intact is salvaged: its intact blobs (found through its
 *   header, or through the old index files when the header is what is damaged) are copied, still sealed,
 *   into new packs, and the damaged pack is removed last. New packs, then new index files, are written
 *   before any old index file or pack is removed: interrupted, it leaves duplicate entries or copies
 *   (harmless), and running it again finishes the job.
 */
import { compareStrings, defaults, LifeboatError, throwIfAborted } from '../core/index.ts';
import { indexFileGroups, packsOf } from './blob-index.ts';
import { BlobWriter } from './blob-writer.ts';
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
  /**
   * Read every pack whole and verify every blob. A pack that is not intact is salvaged: its intact blobs
   * (found through its header, or through the old index files when the header itself is damaged) are
   * copied, still sealed, into new packs, and the damaged pack is removed once the new index is durable.
   */
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
  /** With readData: blobs that did not verify, left out. */
  damagedBlobs: Array<{ pack: string; id: string; reason: string }>;
  /** With readData: damaged packs whose intact blobs were copied into new packs, then removed. */
  salvaged: Array<{ pack: string; blobs: number }>;
  /**
   * Without readData: packs whose header cannot be read, indexed as the old index files described them
   * (their data may be intact); `repair index --read-data` verifies them and salvages what is.
   */
  keptUnverified: Array<{ pack: string; reason: string }>;
  /** Blobs the old index files placed in packs that are gone or left out, plus damaged blobs. */
  entriesDropped: number;
  indexFilesRemoved: number;
  indexFilesWritten: number;
}

export async function rebuildIndex(repo: Repository, opts: RebuildOptions = {}): Promise<RebuildResult> {
  const signal = opts.signal;
  const so = signal ? { signal } : {};
  const packs: Array<{ name: string; size: number }> = [];
  for await (const f of repo.backend.list('pack', so)) packs.push(f);
  const old = await repo.listNames('index', signal);
  const headers = await readPackHeaders(repo, packs, signal);
  const headerless = new Set(headers.damaged.map((d) => d.name));
  // What the old index files place in each pack: counted, to say how many entries the rebuild drops (a
  // damaged file counts as none); and, for a pack whose header is damaged, listed, to salvage it by.
  const claimed = new Map<string, number>();
  const claims = new Map<string, PackedBlob[]>();
  await mapLimit(old, 8, async (name) => {
    try {
      const ip = await repo.loadIndexFile(name, so);
      ip.packs.forEach((pack, k) => claimed.set(pack, Math.max(claimed.get(pack) ?? 0, ip.counts[k]!)));
      if (ip.packs.some((p) => headerless.has(p))) {
        for (const p of packsOf(ip)) if (headerless.has(p.id) && !claims.has(p.id)) claims.set(p.id, p.blobs);
      }
    } catch (err) {
      if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
    }
  });

  const found: Array<{ id: string; blobs: PackedBlob[] }> = [];
  const damagedReasons: Array<{ pack: string; reason: string }> = [];
  const damagedBlobs: RebuildResult['damagedBlobs'] = [];
  const salvaged: RebuildResult['salvaged'] = [];
  const sizes = new Map(packs.map((p) => [p.name, p.size]));
  let done = 0;
  const keptUnverified: RebuildResult['keptUnverified'] = [];
  if (!opts.readData) {
    found.push(...headers.found);
    for (const d of headers.damaged) {
      // The header is damaged, not necessarily the data: what a readable index file said of the pack is
      // kept (a blob read from it is verified anyway), never dropped on the header's word alone.
      const old = claims.get(d.name);
      if (old) {
        found.push({ id: d.name, blobs: old });
        keptUnverified.push({ pack: d.name, reason: d.reason });
      } else {
        damagedReasons.push({ pack: d.name, reason: d.reason });
      }
    }
    found.sort((a, b) => compareStrings(a.id, b.id));
    opts.onProgress?.({ done: packs.length, total: packs.length });
  }
  if (opts.readData) {
    const listed = new Map(headers.found.map((p) => [p.id, p.blobs]));
    const reasonOf = new Map(headers.damaged.map((d) => [d.name, d.reason]));
    /** Damaged packs, with the blobs in them that verify. */
    const toSalvage: Array<{ pack: string; good: PackedBlob[] }> = [];
    // One pack at a time per slot, whole: repair is rare, and a damaged pack is best judged whole.
    await mapLimit(packs, 2, async (f) => {
      throwIfAborted(signal);
      const list = listed.get(f.name) ?? claims.get(f.name);
      try {
        if (!list) throw new LifeboatError('INTEGRITY', reasonOf.get(f.name) ?? 'no header');
        const bytes = await repo.backend.load({ type: 'pack', name: f.name }, { ...so, maxSize: defaults.wholeFileMaxBytes });
        const verdict = verifyPack(repo.master, f.name, bytes, list, sizes.get(f.name)!);
        if (verdict.reasons.length === 0 && listed.has(f.name)) {
          found.push({ id: f.name, blobs: list });
        } else {
          const bad = new Map(verdict.damaged);
          for (const [id, reason] of bad) damagedBlobs.push({ pack: f.name, id, reason });
          toSalvage.push({ pack: f.name, good: list.filter((b) => !bad.has(b.id)) });
          damagedReasons.push({ pack: f.name, reason: verdict.reasons.join('; ') || 'damaged' });
        }
      } catch (err) {
        if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
        damagedReasons.push({ pack: f.name, reason: (err as Error).message });
      }
      opts.onProgress?.({ done: ++done, total: packs.length });
    });
    // The intact blobs of damaged packs are copied, still sealed, into new packs: those that no intact
    // pack holds already.
    for (const p of found) repo.index.addPack(p.id, p.blobs);
    const writer = new BlobWriter(repo, { writeIndex: false, ...so });
    try {
      for (const { pack, good } of toSalvage.sort((a, b) => compareStrings(a.pack, b.pack))) {
        throwIfAborted(signal);
        const bytes = await repo.backend.load({ type: 'pack', name: pack }, { ...so, maxSize: defaults.wholeFileMaxBytes });
        let copied = 0;
        for (const b of good) {
          if (!writer.reserve(b.id)) continue;
          const sealed = bytes.subarray(b.offset, b.offset + b.length);
          repo.decodeBlob({ ...b, pack }, sealed); // verified again: never copy damage forward
          await writer.add(b.type, b.id, sealed, b.rawLength, b.compression);
          copied++;
        }
        salvaged.push({ pack, blobs: copied });
      }
      await writer.flush();
    } catch (err) {
      await writer.discard();
      throw err;
    }
    found.push(...writer.saved);
    found.sort((a, b) => compareStrings(a.id, b.id));
  }

  const kept = new Set(found.map((p) => p.id));
  let entriesDropped = damagedBlobs.length;
  const salvagedPacks = new Set(salvaged.map((x) => x.pack));
  for (const [pack, n] of claimed) if (!kept.has(pack) && !salvagedPacks.has(pack)) entriesDropped += n;
  const groups = indexFileGroups(found);
  // An empty index file when no pack could be read: the old ones are removed all the same.
  const written = new Set<string>();
  for (const group of groups.length > 0 ? groups : [[]]) {
    throwIfAborted(signal);
    written.add(await repo.saveIndexFile(group, so));
  }
  // Only the files that were there before this rebuild started.
  let removed = 0;
  for (const name of old) {
    if (written.has(name)) continue;
    throwIfAborted(signal);
    await repo.backend.remove({ type: 'index', name });
    removed++;
  }
  // The new index no longer names the salvaged packs: they go last.
  for (const x of salvaged) await repo.backend.remove({ type: 'pack', name: x.pack });
  damagedReasons.sort((a, b) => compareStrings(a.pack, b.pack));
  return {
    packs: found.length,
    blobs: found.reduce((a, p) => a + p.blobs.length, 0),
    damaged: damagedReasons.map((d) => d.pack),
    damagedReasons,
    damagedBlobs,
    salvaged,
    keptUnverified,
    entriesDropped,
    indexFilesRemoved: removed,
    indexFilesWritten: groups.length > 0 ? groups.length : 1,
  };
}
