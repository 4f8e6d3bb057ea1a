/**
 * The staged copy of an SQLite backup whose process was killed: kept while that process lives (stopped,
 * say), removed by the next backup once it is gone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { backupSqlite } from '../../../src/sources/sqlite/index.ts';
import { newRepo, tempDir } from '../../helpers/repo.ts';
import { waitFor } from '../../helpers/wait.ts';

const CHILD = join(import.meta.dirname, 'backup-child.ts');

test('a backup killed with its copy staged: the copy stays while its process lives, and the next backup removes it once the process is gone', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const spool = join(dir, 'spool');
  const repo = await newRepo(dir);
  const dbFile = join(dir, 'app.db');
  const db = new Database(dbFile);
  db.exec('CREATE TABLE t(x BLOB)');
  const ins = db.prepare('INSERT INTO t VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 160; i++) ins.run(randomBytes(256 << 10));
  })();
  db.close();
  const size = statSync(dbFile).size;
  mkdirSync(spool);
  const staged = (): string[] => readdirSync(spool).filter((n) => n.startsWith('lifeboat-sqlite-'));
  const full = (n: string): boolean => readdirSync(join(spool, n)).some((f) => statSync(join(spool, n, f)).size >= size);

  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, join(dir, 'repo'), dbFile, spool], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(() => void child.kill('SIGKILL'));
  await waitFor('the child to stage its copy', () => staged().some(full), 60_000, 5);
  // Stopped, it lives: its copy is in use.
  child.kill('SIGSTOP');
  const its = staged();
  assert.equal(its.length, 1);
  await backupSqlite(repo, { file: dbFile, spool });
  assert.deepEqual(staged(), its, "a live process's staged copy is kept");

  child.kill('SIGKILL');
  await exited;
  await backupSqlite(repo, { file: dbFile, spool });
  assert.deepEqual(staged(), [], "the dead process's copy is removed");
});
