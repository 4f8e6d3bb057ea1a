/**
 * The hot site's half: the journals it keeps for other sites' groups, served over its API (`/v1/journals/
 * <group>/...`, the rest backend's protocol), and the hot replica folders kept from them.
 *
 * A journal opens only to the token configured for it (compared as SHA-256, in constant time): a primary's
 * token reaches its own group's journal and nothing else, not even the rest of the API. Files must hash to
 * their names (keys, snapshots, index files, packs), so bytes altered on the way are refused and sent again.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { LifeboatError, systemClock, type Clock, type Health, type Service } from '../core/index.ts';
import { LocalBackend, serveBackend, type Backend } from '../repo/backend/index.ts';
import { forget, Repository, type KeyCache, type RetentionPolicy, type SnapshotEntry } from '../repo/index.ts';
import { applyTree } from './applier.ts';
import { CHECKPOINT_TAG } from './sender.ts';

export interface JournalSpec {
  group: string;
  from?: string;
  /** `sha256:<hex>` of the token the primary presents. */
  tokenHash: string;
  password: { value: string };
  path: string;
  replica?: string;
}

function tokenMatches(token: string | undefined, hash: string): boolean {
  if (!token) return false;
  const got = createHash('sha256').update(token.trim(), 'utf8').digest();
  const want = Buffer.from(hash.replace(/^sha256:/, ''), 'hex');
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Serves the configured journals (the list is read at each request, so a reload takes effect at once). */
export class JournalHost {
  readonly #journals: () => JournalSpec[];
  readonly #backends = new Map<string, LocalBackend>();
  /** Called when a journal stored a snapshot (a checkpoint may have arrived). */
  onSnapshot?: (group: string) => void;

  constructor(journals: () => JournalSpec[]) {
    this.#journals = journals;
  }

  /** The journal `group` if `token` opens it. */
  authorize(group: string, token: string | undefined): JournalSpec | undefined {
    const j = this.#journals().find((x) => x.group === group);
    // The same answer for an unknown group and a wrong token: group names are not told to strangers.
    return j && tokenMatches(token, j.tokenHash) ? j : undefined;
  }

  /** Answers a request below `/v1/journals/<group>/` (`rest`: what follows) for an authorized journal. */
  async handle(j: JournalSpec, req: Request, rest: string, signal?: AbortSignal): Promise<Response> {
    let backend = this.#backends.get(j.path);
    if (!backend) {
      mkdirSync(dirname(j.path), { recursive: true, mode: 0o700 });
      this.#backends.set(j.path, (backend = new LocalBackend(j.path)));
    }
    const res = await serveBackend(backend, req, rest, { contentNames: true }, signal);
    if (req.method === 'POST' && rest.startsWith('snapshot/') && res.status === 201) this.onSnapshot?.(j.group);
    return res;
  }

  async close(): Promise<void> {
    for (const b of this.#backends.values()) await b.close();
    this.#backends.clear();
  }
}

/**
 * What a journal keeps of a group's checkpoints: every one of the last 24 hours, then one an hour for a
 * week and one a day for a month. Forgetting takes no data away from newer checkpoints and runs beside the
 * primary's writes (a shared lock); the space comes back when the journal is pruned.
 */
export const JOURNAL_KEEP: RetentionPolicy = { within: '24h', hourly: 7 * 24, daily: 30 };
const THIN_EVERY_MS = 10 * 60_000;

export interface KeeperState {
  /** The checkpoint applied to the replica last: its snapshot and when it was cut at the primary (ms). */
  applied?: { snapshot: string; cut: number; at: number };
  /** The newest checkpoint the journal holds (applied or not). */
  newest?: { snapshot: string; cut: number };
  error?: string;
}

/**
 * Keeps a journal's hot replica folder at its newest checkpoint: polls the journal (every `everyMs`, and at
 * once when told a snapshot arrived) and applies the newest checkpoint not applied yet. Checkpoints that
 * arrived meanwhile are skipped: each apply still lands exactly on one checkpoint.
 */
export class ReplicaKeeper implements Service {
  readonly name: string;
  readonly state: KeeperState = {};
  readonly #j: JournalSpec;
  readonly #clock: Clock;
  readonly #everyMs: number;
  readonly #log: ((e: Record<string, unknown>) => void) | undefined;
  readonly #keyCache: KeyCache;
  #backend: Backend | undefined;
  #repo: Repository | undefined;
  readonly #seen = new Map<string, SnapshotEntry | null>();
  #appliedTree: string | undefined;
  #thinnedAt: number;
  #cancel: (() => void) | undefined;
  #busy: Promise<void> | undefined;
  #again = false;
  readonly #ac = new AbortController();

  constructor(j: JournalSpec, opts: { clock?: Clock; everyMs?: number; log?: (e: Record<string, unknown>) => void; keyCache?: KeyCache } = {}) {
    if (!j.replica) throw new LifeboatError('INTERNAL', `journal ${j.group} has no replica folder`);
    this.name = `replica:${j.group}`;
    this.#j = j;
    this.#clock = opts.clock ?? systemClock;
    this.#everyMs = opts.everyMs ?? 1000;
    this.#log = opts.log;
    this.#keyCache = opts.keyCache ?? new Map();
    this.#thinnedAt = this.#clock.now();
  }

  start(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    this.#arm(0);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#cancel?.();
    this.#ac.abort();
    await this.#busy?.catch(() => undefined);
    await this.#backend?.close();
  }

  health(): Health {
    return this.state.error ? { ok: false, detail: this.state.error } : { ok: true };
  }

  /** A snapshot arrived: look now rather than at the next tick. */
  poke(): void {
    if (this.#busy) this.#again = true;
    else {
      this.#cancel?.();
      this.#arm(0);
    }
  }

  #arm(ms: number): void {
    if (this.#ac.signal.aborted) return;
    this.#cancel = this.#clock.setTimer(ms, () => {
      this.#busy = this.tick().finally(() => {
        this.#busy = undefined;
        const again = this.#again;
        this.#again = false;
        this.#arm(again ? 0 : this.#everyMs);
      });
    });
  }

  /** One look at the journal: applies its newest checkpoint if it is not applied yet. */
  async tick(): Promise<void> {
    const signal = this.#ac.signal;
    try {
      const repo = await this.#open();
      if (!repo) return;
      for (const name of await repo.listNames('snapshot', signal)) {
        if (this.#seen.has(name)) continue;
        try {
          const s = await repo.loadJson<SnapshotEntry>('snapshot', name, { signal });
          this.#seen.set(name, s.group === this.#j.group && s.tags?.includes(CHECKPOINT_TAG) ? { ...s, id: name, short_id: name.slice(0, 8) } : null);
        } catch (err) {
          if ((err as LifeboatError).code === 'NOT_FOUND') continue;
          throw err;
        }
      }
      if (this.#clock.now() - this.#thinnedAt >= THIN_EVERY_MS) await this.thin();
      let newest: SnapshotEntry | undefined;
      for (const s of this.#seen.values()) if (s && (!newest || s.time > newest.time)) newest = s;
      if (!newest) return;
      this.state.newest = { snapshot: newest.id, cut: Date.parse(newest.time) };
      if (this.state.applied?.snapshot === newest.id) return;
      await repo.loadIndex({ signal });
      const r = await applyTree(repo, this.#appliedTree, newest.tree, this.#j.replica!, { signal });
      this.#appliedTree = newest.tree;
      this.state.applied = { snapshot: newest.id, cut: Date.parse(newest.time), at: this.#clock.now() };
      if (this.state.error) this.#log?.({ event: 'replica-applying-again', group: this.#j.group });
      delete this.state.error;
      for (const w of r.warnings.slice(0, 20)) this.#log?.({ event: 'replica-warning', group: this.#j.group, warning: w });
    } catch (err) {
      if (signal.aborted) return;
      // The next apply compares with the disk: whatever this one left half done is put right.
      this.#appliedTree = undefined;
      const message = (err as Error).message;
      if (message !== this.state.error) this.#log?.({ event: 'replica-apply-failed', group: this.#j.group, error: message });
      this.state.error = message;
    }
  }

  /** Forgets the checkpoints JOURNAL_KEEP does not keep (never the newest, nor the one applied). */
  async thin(): Promise<number> {
    const repo = await this.#open();
    if (!repo) return 0;
    this.#thinnedAt = this.#clock.now();
    const r = await forget(repo, JOURNAL_KEEP, { filter: { group: this.#j.group, tags: [CHECKPOINT_TAG] }, signal: this.#ac.signal });
    const applied = this.state.applied?.snapshot;
    for (const id of r.removed) if (id !== applied) this.#seen.delete(id);
    if (r.removed.length) this.#log?.({ event: 'journal-thinned', group: this.#j.group, forgotten: r.removed.length });
    return r.removed.length;
  }

  async #open(): Promise<Repository | undefined> {
    if (this.#repo) return this.#repo;
    this.#backend ??= new LocalBackend(this.#j.path);
    try {
      this.#repo = await Repository.open(this.#backend, this.#j.password.value, { clock: this.#clock, keyCache: this.#keyCache, signal: this.#ac.signal });
    } catch (err) {
      // Nothing sent yet: the primary makes the journal on its first checkpoint.
      if ((err as LifeboatError).code === 'REPO_NOT_FOUND') return undefined;
      throw err;
    }
    return this.#repo;
  }
}
