/**
 * The primary's half of a group's replication: every `everyMs` (default 1 s) a checkpoint of the group's
 * files members is written into the hot site's journal. The journal is a repository sharing the group
 * repository's key and config (Repository.initReplica), reached over HTTPS (repo/backend/rest), so a
 * checkpoint is an incremental backup into it: unchanged files are not read again (the last checkpoint is
 * the parent), and only chunks the journal lacks cross the link, compressed and encrypted as stored.
 *
 * The recovery point is measured, not assumed: a checkpoint counts once the journal has acknowledged its
 * snapshot, and its age is the time since its cut (the moment its capture started). A checkpoint that
 * fails (the link is down) is retried at the next tick; the age keeps growing meanwhile.
 */
import { isLifeboatError, LifeboatError, systemClock, type Clock, type Health, type Service } from '../core/index.ts';
import { loadSnapshots, Repository, type SnapshotEntry } from '../repo/index.ts';
import type { Backend } from '../repo/backend/index.ts';
import { backupFiles } from '../sources/files/index.ts';
import { ChangeWatch, WATCH_LATENCY_MS } from './watch.ts';

/** Tag of every checkpoint snapshot in a journal. */
export const CHECKPOINT_TAG = 'lifeboat-checkpoint';

export interface FilesMember {
  paths: string[];
  excludes?: string[];
  oneFileSystem?: boolean;
}

export interface SenderOptions {
  group: string;
  members: FilesMember[];
  /** The group's repository at this site (opened when first needed): its key and config make the journal. */
  source: Repository | (() => Promise<Repository>);
  /** The hot site's journal for the group. */
  journal: Backend;
  everyMs?: number;
  clock?: Clock;
  log?: (e: Record<string, unknown>) => void;
  /**
   * The checkpoint acknowledged last before a restart (kept by the caller): its snapshot is the parent, so
   * neither every file nor every snapshot of the journal has to be read again. Without it the journal's
   * snapshots are listed and read (one request each).
   */
  resumeFrom?: string;
  /** Told each acknowledged checkpoint (the caller keeps it for `resumeFrom`). */
  onCheckpoint?: (rec: CheckpointRecord) => void;
  /**
   * Watch the member's folders (once started): a change starts a checkpoint at once, and a checkpoint lists
   * only the folders where something happened. Default false: every checkpoint scans the whole member.
   */
  watch?: boolean;
  /** With `watch`: the full scan that catches what a watcher missed, this often (default 60 s). */
  rescanEveryMs?: number;
  /**
   * With `watch`: checkpoints a change starts begin at least this long after the one before (default
   * 250 ms), so a stream of small writes makes a few checkpoints a second, not one per write: each has a
   * fixed cost (a lock, a snapshot, round trips) that at 1 MB/s in small files cost most of a core.
   */
  minGapMs?: number;
}

export interface CheckpointRecord {
  /** Snapshot ids in the journal, one per member. */
  snapshots: string[];
  /** When its capture started (ms): what it holds is at least this recent. */
  cut: number;
  /** When the journal acknowledged its last snapshot. */
  acked: number;
}

export class Sender implements Service {
  readonly name: string;
  readonly #o: SenderOptions;
  readonly #clock: Clock;
  #repo: Repository | undefined;
  #parents: Array<SnapshotEntry | undefined> = [];
  #cancel: (() => void) | undefined;
  #running: Promise<void> | undefined;
  #ac = new AbortController();
  #lastError: string | undefined;
  #watch: ChangeWatch | undefined;
  #busy = false;
  #again = false;
  /** The last checkpoint succeeded: the journal's index in memory is whole (see BackupOptions.continuous). */
  #fresh = false;
  #lastStart = -Infinity;
  #armedFor = Infinity;
  /** The newest checkpoint the journal holds whole. */
  last: CheckpointRecord | undefined;
  readonly stats = { checkpoints: 0, failures: 0, bytesSent: 0 };

  constructor(opts: SenderOptions) {
    if (opts.members.length === 0) throw new LifeboatError('CONFIG', `group ${opts.group}: nothing to replicate (replication carries files members today)`);
    this.name = `replicate:${opts.group}`;
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    if (this.#o.watch) {
      const w = new ChangeWatch(
        this.#o.members.flatMap((m) => m.paths),
        { now: () => this.#clock.now(), ...(this.#o.rescanEveryMs !== undefined ? { rescanEveryMs: this.#o.rescanEveryMs } : {}) },
      );
      w.onChange = () => this.#poke();
      w.onError = (err) => this.#o.log?.({ event: 'watch-failed', group: this.#o.group, error: err.message, then: 'the next checkpoint scans everything' });
      try {
        await w.start();
        this.#watch = w;
      } catch (err) {
        // No watcher here (no inotify, too many watches): every checkpoint scans the member.
        this.#o.log?.({ event: 'watch-unavailable', group: this.#o.group, error: (err as Error).message });
      }
    }
    this.#arm(0);
  }

  async stop(): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#ac.abort();
    await this.#watch?.stop();
    await this.#running?.catch(() => undefined);
  }

  /** Something changed: a checkpoint now (or right after the one running). */
  #poke(): void {
    // While the hot site is unreachable the regular tick retries; changes do not hasten the retries.
    if (this.#ac.signal.aborted || this.#lastError) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    const at = Math.max(this.#clock.now(), this.#lastStart + (this.#o.minGapMs ?? 250));
    if (at >= this.#armedFor) return; // already due by then
    this.#cancel?.();
    this.#arm(at - this.#clock.now());
  }

  health(): Health {
    return this.#lastError ? { ok: false, detail: this.#lastError } : { ok: true };
  }

  /** Age of the newest checkpoint the journal holds (ms), or undefined before the first. */
  rpoMs(now = this.#clock.now()): number | undefined {
    return this.last ? Math.max(0, now - this.last.cut) : undefined;
  }

  #arm(ms: number): void {
    if (this.#ac.signal.aborted) return;
    this.#armedFor = this.#clock.now() + ms;
    this.#cancel = this.#clock.setTimer(ms, () => {
      this.#cancel = undefined;
      this.#armedFor = Infinity;
      const started = this.#clock.now();
      this.#lastStart = started;
      this.#busy = true;
      this.#again = false;
      this.#running = this.checkpoint().then(
        () => undefined,
        () => undefined,
      );
      void this.#running.then(() => {
        this.#busy = false;
        const sinceStart = this.#clock.now() - started;
        this.#arm(this.#again && !this.#lastError ? Math.max(0, (this.#o.minGapMs ?? 250) - sinceStart) : Math.max(0, (this.#o.everyMs ?? 1000) - sinceStart));
      });
    });
  }

  /** Writes one checkpoint now (the loop calls this; tests and `move` may too). */
  async checkpoint(): Promise<CheckpointRecord> {
    const signal = this.#ac.signal;
    const w = this.#watch?.take();
    // Skipping folders on the watcher's word vouches only for what its events had time to report.
    const cut = this.#clock.now() - (w?.unchanged ? WATCH_LATENCY_MS : 0);
    try {
      const repo = await this.#journal();
      const snapshots: string[] = [];
      for (const [i, m] of this.#o.members.entries()) {
        const parent = this.#parents[i];
        const r = await backupFiles(repo, {
          paths: m.paths,
          ...(m.excludes?.length ? { excludes: m.excludes } : {}),
          ...(m.oneFileSystem ? { oneFileSystem: true } : {}),
          tags: [CHECKPOINT_TAG],
          parent: parent ?? false,
          ...(parent && w?.unchanged ? { unchanged: w.unchanged } : {}),
          ...(this.#fresh ? { continuous: true } : {}),
          // A checkpoint is small: worker threads would cost more to start than they save.
          workers: 0,
          signal,
          finalize: (snap) => {
            snap.group = this.#o.group;
            return Promise.resolve();
          },
        });
        this.#parents[i] = { ...r.snapshot, id: r.id, short_id: r.id.slice(0, 8) };
        this.stats.bytesSent += r.snapshot.summary?.data_added_packed ?? 0;
        snapshots.push(r.id);
      }
      this.#fresh = true;
      const rec: CheckpointRecord = { snapshots, cut, acked: this.#clock.now() };
      this.last = rec;
      this.#o.onCheckpoint?.(rec);
      this.stats.checkpoints++;
      if (this.#lastError) this.#o.log?.({ event: 'replication-resumed', group: this.#o.group });
      this.#lastError = undefined;
      return rec;
    } catch (err) {
      // What a failed checkpoint sent may be packs without an index: the next one looks again.
      this.#fresh = false;
      if (w) {
        this.#watch!.giveBack(w.taken);
        if (!w.unchanged) this.#watch!.rescan();
      }
      this.stats.failures++;
      const message = (err as Error).message;
      if (message !== this.#lastError && !signal.aborted) this.#o.log?.({ event: 'replication-failed', group: this.#o.group, error: message, ...(isLifeboatError(err) && err.hint ? { hint: err.hint } : {}) });
      this.#lastError = message;
      // The journal may have lost what we think it has (restored, pruned): start again from its listing.
      if (!isLifeboatError(err, 'BACKEND') && !isLifeboatError(err, 'ABORTED')) this.#repo = undefined;
      throw err;
    }
  }

  async #journal(): Promise<Repository> {
    if (this.#repo) return this.#repo;
    const source = typeof this.#o.source === 'function' ? await this.#o.source() : this.#o.source;
    const repo = await Repository.initReplica(this.#o.journal, source, { clock: this.#clock, signal: this.#ac.signal });
    // The newest checkpoint already there is the parent: a restart does not read every file again.
    let mine: SnapshotEntry[] = [];
    if (this.#o.resumeFrom !== undefined) {
      try {
        const s = await repo.loadJson<SnapshotEntry>('snapshot', this.#o.resumeFrom, { signal: this.#ac.signal });
        mine = [{ ...s, id: this.#o.resumeFrom, short_id: this.#o.resumeFrom.slice(0, 8) }];
      } catch (err) {
        if (!isLifeboatError(err, 'NOT_FOUND')) throw err;
      }
    }
    if (mine.length === 0) mine = (await loadSnapshots(repo, { signal: this.#ac.signal })).filter((s) => s.group === this.#o.group && s.tags?.includes(CHECKPOINT_TAG)).sort((a, b) => a.time.localeCompare(b.time));
    this.#parents = this.#o.members.map((m) => {
      const same = mine.filter((s) => JSON.stringify(s.paths) === JSON.stringify([...m.paths].sort()) || JSON.stringify(s.paths) === JSON.stringify(m.paths));
      return same.at(-1);
    });
    this.#repo = repo;
    return repo;
  }
}
