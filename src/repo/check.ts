/**
 * check: is every snapshot fully restorable, and is every stored byte what was written?
 *
 * Structure (always): the config opens; every index file decrypts and parses; every indexed pack exists
 * with a plausible size; every snapshot loads; every tree reachable from a snapshot loads and every blob it
 * names is in the index. With `readData` (or a subset of packs): every pack is read whole, its SHA-256 must
 * equal its name, and every blob in it is decrypted, decompressed and re-hashed.
 *
 * A problem names what is damaged (pack, index file, snapshot, tree) and, for lost or damaged blobs, the
 * snapshots and files that depend on them, so the user knows what a restore would miss.
 */
import { createHash, randomInt } from 'node:crypto';
import { compareStrings, defaults, LifeboatError, prestartWorkers, RangeBuffers, siblingModule, throwIfAborted, transferable, WorkerPool } from '../core/index.ts';
import { decodeIndexBytes, encodeIndexFile, packedBlob, type IndexedPacks } from './blob-index.ts';
import type { FileReader } from './backend/index.ts';
import type { PackedBlob } from './pack.ts';
import { checkHeader, decodeIndexIn, planRanges, rangeBlobs, verifyBlobs, verifyIn, verifyPack, type BlobTable, type PackVerdict, type VerifiedTrees, type VerifyPool, type VerifyReq } from './verify-pack.ts';
import { mapLimit, readPackHeaders, type Repository } from './repository.ts';
import { loadSnapshots, type SnapshotEntry } from './snapshot.ts';
import { decodeTree, treeProblems, treeRefs, type Tree, type TreeRefs } from './tree.ts';

export interface CheckProblem {
  kind: 'config' | 'index' | 'pack' | 'snapshot' | 'tree' | 'blob';
  id: string;
  message: string;
  /** Snapshots (short ids) that cannot be fully restored because of this problem. */
  snapshots?: string[];
  /** Files (snapshot paths) affected, at most a few hundred listed. */
  files?: string[];
  /** What to run about it. */
  hint?: string;
}

export interface CheckOptions {
  readData?: boolean;
  /** Read this fraction (0..1] of the packs, chosen at random. */
  readDataSubset?: number;
  /** Worker threads verifying data (0 = this thread). Default: one per core. */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (p: { phase: 'index' | 'snapshots' | 'trees' | 'data'; done: number; total: number }) => void;
}

export interface CheckResult {
  ok: boolean;
  problems: CheckProblem[];
  /** Informational notes that are not damage (e.g. packs no index mentions yet: prune removes them). */
  notes: string[];
  packs: number;
  packsRead: number;
  snapshots: number;
  trees: number;
  blobs: number;
}

const MAX_FILES_LISTED = 500;

/** What to do when stored data is gone: the order matters (a backup first stores again what still exists). */
const REPAIR_LOST =
  'run `lifeboat repair index` (drops the index entries of lost data), then back up again (stores anew what still exists, which also heals older snapshots), then `lifeboat repair snapshots` for what cannot be stored again';
const REPAIR_DAMAGED =
  'run `lifeboat repair index --read-data` (drops the index entries of damaged data), then back up again (stores anew what still exists, which also heals older snapshots), then `lifeboat repair snapshots` for what cannot be stored again';

export async function checkRepository(repo: Repository, opts: CheckOptions = {}): Promise<CheckResult> {
  // Reading everything: the workers start now, booting (~0.3 s each on the project machine) while the
  // index loads, not after it (2026-11-30). Closing a pool twice is harmless.
  const early = opts.readData && opts.workers !== 0 ? newVerifyPool(repo, opts.workers) : undefined;
  try {
    return await checkWith(repo, opts, early);
  } finally {
    await early?.close();
  }
}

/** The worker module of check --read-data: one URL, so that the workers prestarted are the ones taken. */
const VERIFY_WORKER = siblingModule(import.meta.url, 'verify-worker');

/** Start the workers of check --read-data ahead of need (see prestartWorkers): checkRepository takes them. */
export function prestartVerifyWorkers(workers?: number): void {
  void prestartWorkers(VERIFY_WORKER, workers);
}

function newVerifyPool(repo: Repository, workers: number | undefined): VerifyPool {
  return new WorkerPool<VerifyReq, PackVerdict | IndexedPacks>(VERIFY_WORKER, { encryption: repo.master.encryption, mac: repo.master.mac }, workers);
}

async function checkWith(repo: Repository, opts: CheckOptions, early: VerifyPool | undefined): Promise<CheckResult> {
  const problems: CheckProblem[] = [];
  const notes: string[] = [];
  const signal = opts.signal;
  // ---- index files and packs ----
  // The pack listing and the index files are read at the same time (cold, both wait for the disk).
  const onBackend = new Map<string, number>();
  const listing = (async () => {
    for await (const f of repo.backend.list('pack', signal ? { signal } : {})) onBackend.set(f.name, f.size);
  })();
  listing.catch(() => undefined); // awaited below
  // What the index files place in each pack: check holds it for every blob of the repository, so it points
  // into the decoded files' arrays rather than holding objects (PackedBlob objects were ~80 bytes a blob
  // beside the index, 9 MiB of the 100,000-file bench repository's heap).
  const packBlobs = new Map<string, PackClaims>();
  // Every index file is read and judged, also those a caller already loaded into this Repository.
  repo.resetIndex();
  try {
    let done = 0;
    let total = 0;
    await repo.loadIndex({
      ...(signal ? { signal } : {}),
      // Reading everything, the workers decode the index files: a file's JSON objects would otherwise all
      // survive a few young collections on this thread, and V8 grows the young generation for that to its
      // 32 MiB maximum at once (100,000-file bench repository, one 20 MiB index file: peak RSS 185 MiB
      // decoded here, 165 MiB in the workers, 2026-11-30).
      ...(early ? { decode: (name: string, bytes: Buffer) => decodeIndexIn(early, name, bytes) } : {}),
      anyError: true,
      onError: (name, err) => {
        problems.push({ kind: 'index', id: name, message: `index file ${name} is damaged: ${(err as Error).message}` });
        opts.onProgress?.({ phase: 'index', done: ++done, total });
      },
      onListed: (n) => (total = n),
      onLoaded: (_name, ip) => {
        let b = 0;
        ip.packs.forEach((id, k) => {
          const claims = packBlobs.get(id);
          if (claims) claims.add(ip, b, ip.counts[k]!);
          else packBlobs.set(id, new PackClaims(ip, b, ip.counts[k]!));
          b += ip.counts[k]!;
        });
        opts.onProgress?.({ phase: 'index', done: ++done, total });
      },
    });
  } finally {
    // Never left running: a failure reading the index waits for the listing before it is reported.
    await listing.catch(() => undefined);
  }
  await listing;
  const lostBlobs = new Set<string>();
  for (const [pack, claims] of packBlobs) {
    const size = onBackend.get(pack);
    if (size === undefined) {
      problems.push({ kind: 'pack', id: pack, message: `pack ${pack} is in the index but missing from the backend` });
      for (const id of claims.ids()) lostBlobs.add(id);
      continue;
    }
    const end = claims.end();
    if (end + 4 > size) {
      problems.push({ kind: 'pack', id: pack, message: `pack ${pack} is truncated: ${size} bytes, index needs more than ${end}` });
      for (const id of claims.ids()) lostBlobs.add(id);
    }
  }
  // Packs no readable index file describes: left by an interrupted backup (or one in progress), or
  // described by an index file that is damaged or lost. Their headers say what they hold, so the trees
  // and data in them are checked too, and found rather than reported lost.
  const unindexed = [...onBackend.keys()].filter((p) => !packBlobs.has(p)).sort();
  const fromHeaders = new Set<string>();
  if (unindexed.length) {
    const { found, damaged } = await readPackHeaders(repo, unindexed.map((name) => ({ name, size: onBackend.get(name)! })), signal);
    const ip = found.length ? decodeIndexBytes(encodeIndexFile(found)) : undefined;
    let b = 0;
    found.forEach((p, k) => {
      fromHeaders.add(p.id);
      repo.packsFromHeaders.add(p.id);
      if (!repo.index.hasPack(p.id)) repo.index.addPack(p.id, p.blobs);
      packBlobs.set(p.id, new PackClaims(ip!, b, ip!.counts[k]!));
      b += ip!.counts[k]!;
    });
    if (found.length) notes.push(`${found.length} pack(s) are described by no readable index file (left by an interrupted backup, or their index file is damaged or lost); their headers were read instead`);
    if (damaged.length) notes.push(`${damaged.length} pack(s) in no index file have an unreadable header (left half-written, or damaged); \`lifeboat prune\` removes them`);
  }

  // ---- data ----
  const damagedBlobs = new Map<string, string>(); // blob id → reason
  // What each tree the data check verified (authenticated, decompressed, id recomputed, parsed) in its
  // workers refers to: the structure check below then neither loads nor parses those trees again. Only the
  // references are kept, with the chunks missing from the index already picked out, not the trees: the
  // 100,000-file bench repository held ~70 MiB of tree plaintexts, then every parsed tree, that way
  // (2026-11-30).
  const verifiedTrees = new Map<string, CheckedTree | { error: string }>();
  let packsRead = 0;
  if (opts.readData || opts.readDataSubset !== undefined) {
    let packs = [...packBlobs.keys()].filter((p) => onBackend.has(p)).sort();

    if (!opts.readData && opts.readDataSubset !== undefined) {
      const f = opts.readDataSubset;
      if (!(f > 0 && f <= 1)) throw new LifeboatError('USAGE', 'the subset to read must be between 0 and 100 %');
      const want = Math.max(1, Math.round(packs.length * f));
      for (let i = packs.length - 1; i > 0; i--) {
        const j = randomInt(i + 1);
        [packs[i], packs[j]] = [packs[j]!, packs[i]!];
      }
      packs = packs.slice(0, want);
    }
    let n = 0;
    // Reading is I/O, verifying is CPU (SHA-256 of the pack, then decrypt, decompress, HMAC per blob):
    // workers verify while the next packs are read. Tiny jobs stay on this thread.
    const pool = early ?? (opts.workers === 0 || packs.length < 2 ? undefined : newVerifyPool(repo, opts.workers));
    // Ranges in memory: two per worker keeps each busy while the next is read.
    // Shared-memory buffers, used for range after range: see RangeBuffers. A new 1 MiB buffer per range
    // left freed memory that malloc kept: reading faster (one open file per pack) raised check's peak by
    // 10 MiB that way (mixed bench repository, 2026-11-30).
    const buffers = new RangeBuffers((pool?.size ?? 1) * 2, defaults.checkReadSize);
    try {
      await mapLimit(packs, (pool?.size ?? 1) * 2, async (pack) => {
        throwIfAborted(signal);
        const problem = await checkPack(repo, pool, buffers, pack, packBlobs.get(pack)!, onBackend.get(pack)!, damagedBlobs, verifiedTrees, signal);
        if (problem) problems.push(problem);
        packsRead++;
        opts.onProgress?.({ phase: 'data', done: ++n, total: packs.length });
      });
    } finally {
      await pool?.close();
    }
    problems.sort((a, b) => compareStrings(a.id, b.id));
  }

  // ---- snapshots and trees ----
  const snaps = await loadSnapshots(repo, {
    ...(signal ? { signal } : {}),
    onError: (id, err) => problems.push({ kind: 'snapshot', id, message: `snapshot ${id} is damaged: ${(err as Error).message}` }),
  });
  const badTrees = new Map<string, string>();
  /** Blobs the snapshots use that only an unindexed pack's header names. */
  const unindexedUsed = new Set<string>();
  /** Trees holding entries a restore refuses (unsafe names, a symlink with entries beneath it, ...). */
  const refusedIn = new Map<string, TreeRefs['refused']>();
  const visited = new Set<string>();
  let blobsSeen = 0;
  const missingBlobs = new Set<string>();
  const loadChecked = async (id: string): Promise<CheckedTree | undefined> => {
    try {
      const loc = repo.index.get(id);
      if (!loc) throw new Error('tree blob is not in the index');
      if (damagedBlobs.has(id)) throw new Error(damagedBlobs.get(id));
      const v = verifiedTrees.get(id);
      verifiedTrees.delete(id);
      if (v && 'error' in v) throw new Error(v.error);
      return v ?? checkedTree(repo, treeRefs(decodeTree(await repo.loadBlob('tree', id, signal), id)));
    } catch (err) {
      if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
      badTrees.set(id, (err as Error).message);
      return undefined;
    }
  };
  let treeDone = 0;
  const visitTree = async (id: string): Promise<void> => {
    if (visited.has(id)) return;
    visited.add(id);
    const t = await loadChecked(id);
    opts.onProgress?.({ phase: 'trees', done: ++treeDone, total: 0 });
    if (!t) return;
    blobsSeen += t.blobs;
    for (const c of t.missing) missingBlobs.add(c);
    for (const c of t.unindexed) unindexedUsed.add(c);
    if (t.refused.length) refusedIn.set(id, t.refused);
    for (const sub of t.subtrees) await visitTree(sub);
  };
  for (const s of snaps) {
    throwIfAborted(signal);
    await visitTree(s.tree);
  }

  // ---- what do the damaged parts take with them? ----
  const bad = new Map<string, string>([...damagedBlobs]);
  for (const id of missingBlobs) bad.set(id, 'blob is not in the index');
  for (const id of lostBlobs) bad.set(id, 'blob was in a lost or truncated pack');
  for (const [id, why] of badTrees) bad.set(id, why);
  // Not damage to data, but to be repaired: entries a restore refuses, and blobs only a pack's header names.
  const marked = new Set<string>([...refusedIn.keys(), ...unindexedUsed]);
  for (const id of visited) if (fromHeaders.has(repo.index.get(id)?.pack ?? '')) marked.add(id);
  if (bad.size > 0 || marked.size > 0) {
    // Damage is rare: the trees are loaded again to name the files it takes with them.
    const affected = await affectedFiles(snaps, bad, marked, async (id) => {
      if (badTrees.has(id) || !visited.has(id)) return null;
      try {
        return decodeTree(await repo.loadBlob('tree', id, signal), id);
      } catch (err) {
        if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
        return null;
      }
    });
    // Attach affected snapshots/files to the pack problems (or add blob problems when no pack problem names them).
    for (const p of problems) {
      if (p.kind !== 'pack') continue;
      const ids = new Set((packBlobs.get(p.id)?.ids() ?? []).filter((id) => bad.has(id)));
      attach(p, ids, affected);
    }
    const named = new Set(problems.filter((p) => p.kind === 'pack').flatMap((p) => packBlobs.get(p.id)?.ids() ?? []));
    for (const [id, why] of bad) {
      if (named.has(id)) continue;
      const p: CheckProblem = { kind: badTrees.has(id) ? 'tree' : 'blob', id, message: `${badTrees.has(id) ? 'tree' : 'blob'} ${id}: ${why}`, hint: REPAIR_LOST };
      attach(p, new Set([id]), affected);
      if (p.snapshots?.length) problems.push(p);
    }
    for (const [id, refused] of refusedIn) {
      const p: CheckProblem = {
        kind: 'tree',
        id,
        message: `tree ${id} holds ${refused.length} entr${refused.length === 1 ? 'y' : 'ies'} a restore refuses: ${refused.slice(0, 5).map((r) => `${r.name}: ${r.reason}`).join('; ')}${refused.length > 5 ? '; …' : ''}`,
        hint: '`lifeboat repair snapshots` writes snapshots without them (a symlink holding entries becomes the folder it stood for)',
      };
      attach(p, new Set([id]), affected);
      if (p.snapshots?.length) problems.push(p);
    }
    const onlyInHeaders = [...marked].filter((id) => !refusedIn.has(id));
    if (onlyInHeaders.length > 0) {
      const p: CheckProblem = {
        kind: 'index',
        id: 'unindexed',
        message: `${onlyInHeaders.length} blob(s) the snapshots use are in packs no readable index file describes; the data is there, the index is not`,
        hint: 'run `lifeboat repair index`',
      };
      attach(p, new Set(onlyInHeaders), affected);
      problems.push(p);
    }
  }
  for (const p of problems) {
    if (p.hint !== undefined) continue;
    if (p.kind === 'index') p.hint = 'run `lifeboat repair index`: it rebuilds the index from the packs themselves';
    else if (p.kind === 'pack') p.hint = p.message.includes('is damaged') ? REPAIR_DAMAGED : REPAIR_LOST;
    else if (p.kind === 'snapshot') p.hint = 'the snapshot file cannot be read; `lifeboat forget ID` (or `lifeboat repair snapshots --forget`) removes it';
  }

  return {
    ok: problems.length === 0,
    problems,
    notes,
    packs: packBlobs.size,
    packsRead,
    snapshots: snaps.length,
    trees: visited.size,
    blobs: blobsSeen,
  };
}

/**
 * The blobs the index files place in one pack (a BlobTable): usually one run of one decoded index file's
 * arrays, referred to where they lie. A pack in two index files gets arrays of its own, each blob once.
 */
class PackClaims implements BlobTable {
  #ids: Uint32Array;
  #nums: Uint32Array;
  #base: number;
  #count: number;
  /** The bytes of #ids. */
  #idBytes: Buffer;

  constructor(ip: IndexedPacks, start: number, count: number) {
    this.#ids = ip.ids;
    this.#idBytes = bytesOf(ip.ids);
    this.#nums = ip.nums;
    this.#base = start;
    this.#count = count;
  }

  get count(): number {
    return this.#count;
  }

  /** Another index file claims blobs in this pack too. */
  add(ip: IndexedPacks, start: number, count: number): void {
    const ids = new Uint32Array((this.#count + count) * 8);
    const nums = new Uint32Array((this.#count + count) * 4);
    const seen = new Set<string>();
    let n = 0;
    const take = (from: PackClaims): void => {
      for (let i = 0; i < from.count; i++) {
        const id = from.id(i);
        if (seen.has(id)) continue;
        seen.add(id);
        ids.set(from.#ids.subarray((from.#base + i) * 8, (from.#base + i + 1) * 8), n * 8);
        nums.set(from.#nums.subarray((from.#base + i) * 4, (from.#base + i + 1) * 4), n * 4);
        n++;
      }
    };
    take(this);
    take(new PackClaims(ip, start, count));
    this.#ids = ids;
    this.#idBytes = bytesOf(ids);
    this.#nums = nums;
    this.#base = 0;
    this.#count = n;
  }

  id(i: number): string {
    const o = (this.#base + i) * 32;
    return this.#idBytes.toString('hex', o, o + 32);
  }

  sameId(i: number, bytes: Uint8Array, at: number): boolean {
    const o = (this.#base + i) * 32;
    for (let k = 0; k < 32; k++) if (this.#idBytes[o + k] !== bytes[at + k]) return false;
    return true;
  }

  offset(i: number): number {
    return this.#nums[(this.#base + i) * 4]!;
  }

  length(i: number): number {
    return this.#nums[(this.#base + i) * 4 + 1]!;
  }

  blob(i: number): PackedBlob {
    return packedBlob(this.id(i), this.#nums, this.#base + i);
  }

  ids(): string[] {
    return Array.from({ length: this.#count }, (_, i) => this.id(i));
  }

  /** Where the last blob ends. */
  end(): number {
    let end = 0;
    for (let i = 0; i < this.#count; i++) end = Math.max(end, this.offset(i) + this.length(i));
    return end;
  }
}

function bytesOf(a: Uint32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A tree as the structure check keeps it: its folders' trees, how many chunks it uses, those not indexed. */
interface CheckedTree {
  subtrees: string[];
  blobs: number;
  missing: string[];
  /** Chunks found only through a pack's header (no readable index file describes the pack). */
  unindexed: string[];
  refused: TreeRefs['refused'];
}

function checkedTree(repo: Repository, refs: TreeRefs): CheckedTree {
  const fromHeaders = repo.packsFromHeaders;
  return {
    subtrees: refs.subtrees,
    blobs: refs.contents.length,
    missing: refs.contents.filter((c) => !repo.index.has(c)),
    unindexed: fromHeaders.size === 0 ? [] : refs.contents.filter((c) => fromHeaders.has(repo.index.get(c)?.pack ?? '')),
    refused: refs.refused,
  };
}

type Affected = Map<string, { snapshots: Set<string>; files: string[] }>;

function attach(p: CheckProblem, ids: Set<string>, affected: Affected): void {
  const snaps = new Set<string>();
  const files: string[] = [];
  for (const id of ids) {
    const a = affected.get(id);
    if (!a) continue;
    for (const s of a.snapshots) snaps.add(s);
    for (const f of a.files) if (files.length < MAX_FILES_LISTED && !files.includes(f)) files.push(f);
  }
  if (snaps.size) p.snapshots = [...snaps].sort();
  if (files.length) p.files = files;
}

/**
 * For each bad or marked blob: the snapshots and files (or folders, for trees) that use it. A bad tree is
 * not looked into; a marked one (readable, but to be repaired) is.
 */
async function affectedFiles(snaps: SnapshotEntry[], bad: Map<string, string>, marked: Set<string>, tree: (id: string) => Promise<Tree | null>): Promise<Affected> {
  const out: Affected = new Map();
  const note = (id: string, snap: string, path: string): void => {
    let a = out.get(id);
    if (!a) out.set(id, (a = { snapshots: new Set(), files: [] }));
    a.snapshots.add(snap);
    if (a.files.length < MAX_FILES_LISTED && !a.files.includes(path)) a.files.push(path);
  };
  // Trees with nothing bad below them are remembered, so shared subtrees are walked once per snapshot at most.
  const clean = new Set<string>();
  const walk = async (id: string, prefix: string, snap: string): Promise<boolean> => {
    if (clean.has(id)) return false;
    if (bad.has(id)) {
      note(id, snap, prefix || '/');
      return true;
    }
    let found = false;
    if (marked.has(id)) {
      note(id, snap, prefix || '/');
      found = true;
    }
    const t = await tree(id);
    if (!t) return found;
    const refused = new Set(treeProblems(t).map((r) => r.node));
    for (const n of t.nodes) {
      if (refused.has(n)) continue;
      const path = `${prefix}/${n.name}`;
      for (const c of n.content ?? []) {
        if (bad.has(c) || marked.has(c)) {
          note(c, snap, path);
          found = true;
        }
      }
      if (n.type === 'dir' && n.subtree && (await walk(n.subtree, path, snap))) found = true;
    }
    if (!found) clean.add(id);
    return found;
  };
  for (const s of snaps) await walk(s.tree, '', s.short_id);
  return out;
}

/**
 * Read and verify one pack: in ranges of about defaults.checkReadSize (planRanges), hashed here in order
 * while workers verify each range's blobs, so a pack is never in memory whole; a pack whose index entries do
 * not fit it (overlapping, outside it) is read whole and verified by verifyPack. The ranges are read through
 * one open file: an open, fstat and close per range was ~0.2 s of this thread's time in the mixed bench
 * repository (2026-11-30).
 */
async function checkPack(
  repo: Repository,
  pool: VerifyPool | undefined,
  buffers: RangeBuffers,
  pack: string,
  indexed: BlobTable,
  size: number,
  damaged: Map<string, string>,
  verifiedTrees: Map<string, CheckedTree | { error: string }>,
  signal: AbortSignal | undefined,
): Promise<CheckProblem | undefined> {
  const cannotRead = (err: unknown): CheckProblem => {
    if (err instanceof LifeboatError && err.code === 'ABORTED') throw err;
    for (let i = 0; i < indexed.count; i++) damaged.set(indexed.id(i), `pack ${pack} cannot be read`);
    return { kind: 'pack', id: pack, message: `pack ${pack} cannot be read: ${(err as Error).message}` };
  };
  const handle = { type: 'pack', name: pack } as const;
  const opts = signal ? { signal } : {};
  const ranges = planRanges(indexed, size, defaults.checkReadSize);
  let v: PackVerdict;
  if (!ranges) {
    const slot = await buffers.acquire();
    try {
      let bytes: Buffer;
      try {
        bytes = await repo.backend.load(handle, { ...opts, maxSize: defaults.wholeFileMaxBytes });
      } catch (err) {
        return cannotRead(err);
      }
      const list = Array.from({ length: indexed.count }, (_, i) => indexed.blob(i));
      v = pool ? await verifyIn(pool, { t: 'pack', pack, bytes, indexed: list, size }, transferable(bytes)) : verifyPack(repo.master, pack, bytes, list, size);
    } finally {
      buffers.release(slot);
    }
  } else {
    const hash = createHash('sha256');
    const reasons: string[] = [];
    const verdicts: Array<Promise<Array<[string, string]>>> = [];
    let failed: CheckProblem | undefined;
    let reader: FileReader | undefined;
    try {
      reader = await repo.backend.reader(handle, opts);
    } catch (err) {
      return cannotRead(err);
    }
    try {
      for (const r of ranges) {
        const slot = await buffers.acquire(r.end - r.start);
        let bytes: Buffer;
        try {
          bytes = await reader.read(r.start, r.end - r.start, { ...opts, into: slot });
        } catch (err) {
          buffers.release(slot);
          failed = cannotRead(err);
          break;
        }
        hash.update(bytes);
        if (r.end === size) {
          let header = checkHeader(repo.master, pack, bytes, size, indexed);
          if (!Array.isArray(header)) {
            try {
              header = checkHeader(repo.master, pack, await reader.read(size - header.need, header.need, opts), size, indexed);
            } catch (err) {
              buffers.release(slot);
              failed = cannotRead(err);
              break;
            }
          }
          if (Array.isArray(header)) reasons.push(...header);
        }
        if (r.blobs.length === 0) {
          buffers.release(slot);
          continue;
        }
        // The range's buffer is shared memory: the worker reads it where it lies, and it comes back to the
        // pool only once the worker has answered.
        const blobs = rangeBlobs(indexed, r);
        const trees: VerifiedTrees = [];
        const p: Promise<PackVerdict> = pool
          ? verifyIn(pool, { t: 'blobs', pack, start: r.start, bytes, blobs })
          : Promise.resolve({ reasons: [], damaged: verifyBlobs(repo.master, pack, r.start, bytes, blobs, undefined, trees), trees });
        const verdict = p
          .then((x) => {
            for (const [id, refs] of x.trees ?? []) verifiedTrees.set(id, 'error' in refs ? refs : checkedTree(repo, refs));
            return x.damaged;
          })
          .finally(() => buffers.release(slot));
        // Awaited after the loop; until then a failed worker must not count as an unhandled rejection.
        verdict.catch(() => undefined);
        verdicts.push(verdict);
      }
    } finally {
      // Reads already handed to workers are done; only the file is released here.
      await reader.close();
    }
    const found = (await Promise.all(verdicts)).flat();
    if (failed) return failed;
    if (hash.digest('hex') !== pack) reasons.unshift('contents do not match its name (SHA-256)');
    if (found.length) reasons.push(`${found.length} of ${indexed.count} blobs are damaged`);
    v = { reasons, damaged: found };
  }
  for (const [id, why] of v.damaged) damaged.set(id, why);
  if (v.reasons.length === 0) return undefined;
  return { kind: 'pack', id: pack, message: `pack ${pack} is damaged: ${v.reasons.join('; ')}` };
}
