/**
 * SQLite: a backup taken while another process writes as fast as it can opens, passes
 * PRAGMA integrity_check, and holds a consistent prefix of the writes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { LifeboatError } from '../../../src/core/index.ts';
import { loadSnapshots } from '../../../src/repo/index.ts';
import { backupSqlite, restoreSqlite, type SqliteSource } from '../../../src/sources/sqlite/index.ts';
import { newRepo, tempDir } from '../../helpers/repo.ts';
import { waitFor } from '../../helpers/wait.ts';

const root = resolve(import.meta.dirname, '../../..');

/** Each transaction adds item i and sets the counter to i: a consistent state has count = max = counter. */
const writerScript = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1], { timeout: 60000 });
const add = db.prepare("INSERT INTO items (id, body) VALUES (?, ?)");
const set = db.prepare('UPDATE counter SET n = ?');
const tx = db.transaction((i) => { add.run(i, 'item ' + i + ' ' + 'z'.repeat(200)); set.run(i); });
let i = db.prepare('SELECT n FROM counter').pluck().get();
for (;;) tx(++i);
`;

for (const mode of ['wal', 'delete'] as const) {
  test(`sqlite (${mode} journal): a backup during concurrent writes is consistent and passes integrity_check`, async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'app.db');
    const db = new Database(file);
    db.pragma(`journal_mode = ${mode}`);
    db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL); CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0);');
    db.close();
    const writer = spawn(process.execPath, ['-e', writerScript, file], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    t.after(() => {
      writer.kill('SIGKILL');
    });
    const probe = new Database(file, { readonly: true, timeout: 60_000 });
    t.after(() => probe.close());
    const count = (): number => probe.prepare('SELECT count(*) FROM items').pluck().get() as number;
    await waitFor('the writer to start', () => count() > 200);

    const repo = await newRepo(dir);
    const res = await backupSqlite(repo, { file });
    const src = res.snapshot.source as SqliteSource;
    assert.equal(src.kind, 'sqlite');
    assert.equal(src.journal_mode, mode);
    assert.equal(res.snapshot.consistency, 'application');
    assert.deepEqual(res.snapshot.paths, [file]);
    const saved = src.tables.find((x) => x.name === 'items')!.rows;
    assert.ok(saved > 200);
    // The writer went on during and after the backup.
    await waitFor('more writes', () => count() > saved + 100);
    writer.kill('SIGKILL');

    const [snap] = await loadSnapshots(repo);
    const out = join(dir, 'restored', 'app.db');
    mkdirSync(join(dir, 'restored'));
    const r = await restoreSqlite(repo, snap!, { dest: out });
    assert.equal(r.integrity, 'ok');
    assert.equal(existsSync(out + '-wal'), false, 'one self-contained file');
    const back = new Database(out, { readonly: true });
    t.after(() => back.close());
    const [n, max, counter] = [
      back.prepare('SELECT count(*) FROM items').pluck().get(),
      back.prepare('SELECT max(id) FROM items').pluck().get(),
      back.prepare('SELECT n FROM counter').pluck().get(),
    ];
    assert.equal(n, saved);
    assert.equal(max, saved, 'a prefix: no gaps');
    assert.equal(counter, saved, 'each transaction whole');
    assert.equal(back.pragma('integrity_check', { simple: true }), 'ok');

    // Restoring over an existing file is refused without --replace.
    await assert.rejects(restoreSqlite(repo, snap!, { dest: out }), (err: unknown) => err instanceof LifeboatError && err.code === 'EXISTS');
  });
}

test('sqlite: a file that is not a database is a clear error and saves nothing', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'not.db');
  writeFileSync(file, 'this is not a database, just text that is long enough to have a header. '.repeat(20));
  const repo = await newRepo(dir);
  await assert.rejects(backupSqlite(repo, { file }), (err: unknown) => err instanceof LifeboatError && err.code === 'SOURCE' && err.message.includes(file));
  await assert.rejects(backupSqlite(repo, { file: join(dir, 'missing.db') }), (err: unknown) => err instanceof LifeboatError && err.code === 'USAGE');
  assert.equal((await loadSnapshots(repo)).length, 0);
});

test('sqlite: a corrupt database, a missing folder or a folder as the destination are clear errors', async (t) => {
  const dir = await tempDir(t);
  const repo = await newRepo(dir);
  const bad = join(dir, 'bad.db');
  writeFileSync(bad, Buffer.alloc(8192, 0x5a));
  await assert.rejects(backupSqlite(repo, { file: bad }), (e: unknown) => e instanceof LifeboatError && e.code !== 'INTERNAL' && /not a database/.test(e.message));
  // A valid header over damaged pages fails inside SQLite's own copy or check.
  const damaged = join(dir, 'damaged.db');
  const d = new Database(damaged);
  d.exec('CREATE TABLE t (x); CREATE INDEX i ON t (x);');
  const ins = d.prepare('INSERT INTO t VALUES (?)');
  for (let i = 0; i < 5000; i++) ins.run(`row ${i} ${'x'.repeat(100)}`);
  d.close();
  const bytes = readFileSync(damaged);
  bytes.fill(0x41, 4096 * 5, 4096 * 40);
  writeFileSync(damaged, bytes);
  await assert.rejects(backupSqlite(repo, { file: damaged }), (e: unknown) => e instanceof LifeboatError && e.code !== 'INTERNAL' && e.message.includes(damaged));
  assert.equal((await loadSnapshots(repo)).length, 0);
  const good = join(dir, 'good.db');
  const db = new Database(good);
  db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1);');
  db.close();
  await backupSqlite(repo, { file: good });
  const [snap] = await loadSnapshots(repo);
  await assert.rejects(restoreSqlite(repo, snap!, { dest: join(dir, 'missing', 'x.db') }), { code: 'USAGE', message: /does not exist/ });
  mkdirSync(join(dir, 'folder'));
  await assert.rejects(restoreSqlite(repo, snap!, { dest: join(dir, 'folder'), replace: true }), { code: 'USAGE', message: /it is a folder/ });
  assert.equal(existsSync(join(dir, 'missing')), false);
});
