/**
 * One daemon per data folder. The lock is an exclusive SQLite transaction held open on `daemon.lock`: the
 * operating system's record lock under it is released when the process ends, however it ends, so a daemon
 * killed with SIGKILL leaves no stale lock to clear by hand. Beside it, `daemon.pid` names the holder for
 * the refusal message.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { chmodSync, readFileSync, renameSync, rmSync, statSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { LifeboatError } from '../core/index.ts';

export class DataLock {
  readonly #db: BetterSqlite3.Database;
  readonly #pidFile: string;
  readonly #lockFile: string;
  readonly #dataDir: string;
  /** The locked file's identity: a folder deleted or moved away leaves the path to a new, unlocked one. */
  readonly #ident: { dev: number; ino: number };
  #watcher: FSWatcher | undefined;

  private constructor(db: BetterSqlite3.Database, dataDir: string) {
    this.#db = db;
    this.#dataDir = dataDir;
    this.#pidFile = join(dataDir, 'daemon.pid');
    this.#lockFile = join(dataDir, 'daemon.lock');
    const st = statSync(this.#lockFile);
    this.#ident = { dev: st.dev, ino: st.ino };
  }

  /** Whether `daemon.lock` at the data folder's path is still the file this lock holds. */
  intact(): boolean {
    try {
      const st = statSync(this.#lockFile);
      return st.dev === this.#ident.dev && st.ino === this.#ident.ino;
    } catch {
      return false;
    }
  }

  /**
   * Calls `onLost` once, as soon as the data folder is deleted, moved or replaced (inotify on the folder;
   * the daemon also asks `intact()` every second, for what a watch misses). A second daemon could then lock
   * a new folder at the same path, so the first must stop at once.
   */
  watch(onLost: () => void): void {
    let told = false;
    const check = (): void => {
      if (told || this.intact()) return;
      told = true;
      this.#unwatch();
      onLost();
    };
    try {
      this.#watcher = watch(this.#dataDir, { persistent: false }, (event) => {
        if (event === 'rename') check();
      });
      // The folder itself removed: the watch ends with an error on some systems.
      this.#watcher.on('error', check);
    } catch {
      // No inotify here (or too many watches): the daemon's every-second check still sees it.
    }
  }

  #unwatch(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  static async acquire(dataDir: string): Promise<DataLock> {
    const Database = (await import('better-sqlite3')).default;
    const pidFile = join(dataDir, 'daemon.pid');
    const db = new Database(join(dataDir, 'daemon.lock'), { timeout: 0 });
    chmodSync(join(dataDir, 'daemon.lock'), 0o600);
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER)');
      db.exec('BEGIN EXCLUSIVE');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      let holder = 'another process';
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0) holder = `pid ${pid}`;
      } catch {
        // The holder may be writing its pid file right now: the lock is what counts.
      }
      throw new LifeboatError('DAEMON', `another daemon (${holder}) runs on the data folder ${dataDir}`, {
        hint: 'one daemon per data folder: stop the other one (systemctl stop lifeboat), or give this one its own site.data',
        context: { dataDir, holder },
      });
    }
    writeFileSync(`${pidFile}.tmp`, `${process.pid}\n`, { mode: 0o644 });
    renameSync(`${pidFile}.tmp`, pidFile);
    return new DataLock(db, dataDir);
  }

  release(): void {
    this.#unwatch();
    if (!this.#db.open) return;
    // A lost folder's path may belong to another daemon by now: its pid file is not ours to remove.
    if (this.intact()) rmSync(this.#pidFile, { force: true });
    this.#db.exec('ROLLBACK');
    this.#db.close();
  }
}
