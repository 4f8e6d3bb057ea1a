/**
 * One daemon per data folder. The lock is an exclusive SQLite transaction held open on `daemon.lock`: the
 * operating system's record lock under it is released when the process ends, however it ends, so a daemon
 * killed with SIGKILL leaves no stale lock to clear by hand. Beside it, `daemon.pid` names the holder for
 * the refusal message.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifeboatError } from '../core/index.ts';

export class DataLock {
  readonly #db: BetterSqlite3.Database;
  readonly #pidFile: string;

  private constructor(db: BetterSqlite3.Database, pidFile: string) {
    this.#db = db;
    this.#pidFile = pidFile;
  }

  static async acquire(dataDir: string): Promise<DataLock> {
    const Database = (await import('better-sqlite3')).default;
    const pidFile = join(dataDir, 'daemon.pid');
    const db = new Database(join(dataDir, 'daemon.lock'), { timeout: 0 });
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
    writeFileSync(`${pidFile}.tmp`, `${process.pid}\n`);
    renameSync(`${pidFile}.tmp`, pidFile);
    return new DataLock(db, pidFile);
  }

  release(): void {
    if (!this.#db.open) return;
    rmSync(this.#pidFile, { force: true });
    this.#db.exec('ROLLBACK');
    this.#db.close();
  }
}
