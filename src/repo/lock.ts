/**
 * Repository locks. Backups, restores and checks hold shared locks; prune (anything that deletes data)
 * holds an exclusive one. A lock file (`locks/<random id>`, sealed JSON, the only files ever rewritten)
 * names its holder (host, pid, user) and is refreshed while the holder runs. A lock is stale when it
 * was not refreshed for `lockStaleMs`, or its holder is on this host and that pid is gone: stale locks
 * never block anyone, so a crashed backup does not stop the next one (restic #1450, #2736).
 *
 * Acquisition writes our lock first, then looks at the others, and backs off on a conflict: two
 * processes racing for conflicting locks may both back off, but can never both proceed.
 *
 * The locks of commands that only read (`readOnly`: restore, check, ls, ...) are saved without the
 * folder's fsync (Backend.save `durable: false`): a crash may lose the lock, never leave it with other
 * bytes. Losing it protects nothing less, since the reader dies with the machine. (If a lock on a shared
 * file server were lost in that server's crash, a prune could remove packs under a running reader, which
 * then fails with a read error; nothing stored is lost.) That fsync took ~0.1 s of a cold restore here
 * (2026-11-30). Writers (backup, prune) keep durable locks: a backup's new packs are unreferenced until its
 * snapshot is saved.
 *
 * A lock file that cannot be read (damaged; never one being written: it appears by rename) blocks
 * nobody and is listed as stale, so `unlock` removes it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { currentUsername, defaults, errnoCode, LifeboatError, NotFoundError } from '../core/index.ts';
import type { Repository } from './repository.ts';

export interface LockJson {
  time: string;
  refreshed: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
  purpose?: string;
}

export interface LockEntry extends LockJson {
  id: string;
  stale: boolean;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

export function isStale(l: LockJson, now: number, staleMs: number = defaults.lockStaleMs): boolean {
  if (now - Date.parse(l.refreshed) > staleMs) return true;
  if (l.hostname === hostname() && !pidAlive(l.pid)) return true;
  return false;
}

export async function listLocks(repo: Repository): Promise<LockEntry[]> {
  const out: LockEntry[] = [];
  for (const id of await repo.listNames('lock')) {
    try {
      const l = await repo.loadJson<LockJson>('lock', id, { contentAddressed: false });
      out.push({ ...l, id, stale: isStale(l, repo.clock.now()) });
    } catch (err) {
      if (err instanceof NotFoundError) continue; // released while we listed
      if (err instanceof LifeboatError && (err.code === 'INTEGRITY' || err.code === 'CORRUPT')) {
        out.push({ id, time: '', refreshed: '', exclusive: false, hostname: '?', username: '?', pid: 0, purpose: `unreadable lock file (${err.message})`, stale: true });
        continue;
      }
      throw err;
    }
  }
  return out;
}

export class Lock {
  readonly id: string;
  readonly #repo: Repository;
  readonly #json: LockJson;
  readonly #durable: boolean;
  #timer: NodeJS.Timeout | undefined;
  #released = false;
  #lastRefresh: number;

  private constructor(repo: Repository, id: string, json: LockJson, durable: boolean) {
    this.#repo = repo;
    this.id = id;
    this.#json = json;
    this.#durable = durable;
    this.#lastRefresh = repo.clock.now();
  }

  static async acquire(repo: Repository, opts: { exclusive: boolean; purpose?: string; refreshMs?: number; readOnly?: boolean }): Promise<Lock> {
    const now = new Date(repo.clock.now()).toISOString();
    const username = currentUsername();
    const json: LockJson = {
      time: now,
      refreshed: now,
      exclusive: opts.exclusive,
      hostname: hostname(),
      username,
      pid: process.pid,
      ...(opts.purpose ? { purpose: opts.purpose } : {}),
    };
    const id = randomBytes(32).toString('hex');
    const durable = !(opts.readOnly && !opts.exclusive);
    await repo.saveJson('lock', json, { name: id, durable });
    const lock = new Lock(repo, id, json, durable);
    const others = (await listLocks(repo)).filter((l) => l.id !== id && !l.stale);
    const conflict = others.find((l) => opts.exclusive || l.exclusive);
    if (conflict) {
      await lock.release();
      const what = conflict.exclusive ? 'an exclusive lock' : 'a lock';
      throw new LifeboatError('REPO_LOCKED', `repository is locked: ${what} is held by pid ${conflict.pid} on ${conflict.hostname} (${conflict.purpose ?? 'unknown operation'}, since ${conflict.time})`, {
        hint: 'wait for it to finish; if that process is gone, the lock becomes stale after 30 minutes, or run `lifeboat unlock` on its host',
        context: { lock: conflict.id },
      });
    }
    const refreshMs = opts.refreshMs ?? defaults.lockRefreshMs;
    lock.#timer = setInterval(() => {
      lock.refresh().catch(() => {
        /* a missed refresh is retried at the next tick; staleness allows several misses */
      });
    }, refreshMs);
    lock.#timer.unref();
    return lock;
  }

  async refresh(): Promise<void> {
    if (this.#released) return;
    const now = this.#repo.clock.now();
    this.#json.refreshed = new Date(now).toISOString();
    await this.#repo.saveJson('lock', this.#json, { name: this.id, durable: this.#durable });
    this.#lastRefresh = now;
  }

  /**
   * Throws if the lock may have looked stale to others (refreshes failed for most of the stale period):
   * a prune could then have run beside us, so we must not publish a snapshot that relies on what we saw.
   */
  assertHeld(staleMs: number = defaults.lockStaleMs): void {
    const age = this.#repo.clock.now() - this.#lastRefresh;
    if (this.#released || age > staleMs * 0.8) {
      throw new LifeboatError('REPO_LOCKED', `lost the repository lock (not refreshed for ${Math.round(age / 1000)} s); nothing was saved`, {
        hint: 'the data already stored is reused by the next run; check the connection to the repository and run again',
      });
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    if (this.#timer) clearInterval(this.#timer);
    try {
      await this.#repo.backend.remove({ type: 'lock', name: this.id });
    } catch (err) {
      if (!(err instanceof NotFoundError) && !(err instanceof LifeboatError && err.code === 'NOT_FOUND')) throw err;
    }
  }
}

/** Remove stale locks (or all, with `all`). Returns the removed ids. */
export async function removeLocks(repo: Repository, opts: { all?: boolean } = {}): Promise<LockEntry[]> {
  const removed: LockEntry[] = [];
  for (const l of await listLocks(repo)) {
    if (!opts.all && !l.stale) continue;
    await repo.backend.remove({ type: 'lock', name: l.id }).catch((err: unknown) => {
      if (!(err instanceof LifeboatError && err.code === 'NOT_FOUND')) throw err;
    });
    removed.push(l);
  }
  return removed;
}
