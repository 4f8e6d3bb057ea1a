/** The backup job: members, one snapshot each, between the group's hooks; one member failing spares the others; retention per group. */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { applyRetention, runBackup } from '../../src/jobs/index.ts';
import { loadSnapshots } from '../../src/repo/index.ts';
import { snapshotSource } from '../../src/sources/index.ts';
import { newRepo, tempDir } from '../helpers/repo.ts';

test('a group job: files and SQLite snapshots tagged with the group, hooks once around all members', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'a'), 'a');
  const db = new Database(join(dir, 'app.db'));
  db.exec('CREATE TABLE t(x); INSERT INTO t VALUES (1)');
  db.close();
  const log = join(dir, 'log');
  const repo = await newRepo(dir);
  const r = await runBackup(repo, {
    group: 'web',
    members: [
      { kind: 'files', paths: [data], excludes: [], oneFileSystem: false },
      { kind: 'sqlite', path: join(dir, 'app.db') },
    ],
    hooks: { pre: `echo pre >> ${log}`, post: `echo "post $LIFEBOAT_BACKUP_STATUS" >> ${log}` },
  });
  assert.equal(r.status, 'ok', r.problems.join('; '));
  assert.equal(readFileSync(log, 'utf8'), 'pre\npost ok\n');
  const snaps = await loadSnapshots(repo);
  assert.deepEqual(snaps.map((s) => s.group), ['web', 'web']);
  assert.deepEqual(snaps.map((s) => snapshotSource(s)?.kind).sort(), ['files', 'sqlite']);
  // The last member's snapshot records both hooks.
  assert.ok(snaps.some((s) => s.hooks?.post?.exit_code === 0));
  assert.ok(r.bytesAdded > 0);
});

test('a failing member is reported, the others are saved, and the post hook hears "failed"', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'a'), 'a');
  const log = join(dir, 'log');
  const repo = await newRepo(dir);
  const r = await runBackup(repo, {
    group: 'g',
    members: [
      { kind: 'files', paths: [data], excludes: [], oneFileSystem: false },
      { kind: 'sqlite', path: join(dir, 'gone.db') },
    ],
    hooks: { post: `echo "post $LIFEBOAT_BACKUP_STATUS" >> ${log}` },
  });
  assert.equal(r.status, 'failed');
  assert.equal(r.members.filter((m) => m.result).length, 1);
  assert.match(r.problems.join('\n'), /sqlite .*gone\.db: .*not an SQLite database file/);
  assert.equal(readFileSync(log, 'utf8'), 'post failed\n');
  assert.equal(r.hooks.post?.exit_code, 0);
  assert.equal((await loadSnapshots(repo)).length, 1);
});

test('a cancelled job throws ABORTED and saves nothing more', async (t) => {
  const dir = await tempDir(t);
  const repo = await newRepo(dir);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(runBackup(repo, { members: [{ kind: 'files', paths: [dir], excludes: [], oneFileSystem: false }], signal: ac.signal }), { code: 'ABORTED' });
  assert.equal((await loadSnapshots(repo)).length, 0);
});

test('retention applies to the group\'s own snapshots only', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'data');
  mkdirSync(data);
  const repo = await newRepo(dir);
  const files = { kind: 'files' as const, paths: [data], excludes: [], oneFileSystem: false };
  for (let i = 0; i < 3; i++) {
    writeFileSync(join(data, 'a'), String(i));
    assert.equal((await runBackup(repo, { group: 'keep2', members: [files] })).status, 'ok');
    assert.equal((await runBackup(repo, { group: 'other', members: [files] })).status, 'ok');
  }
  const r = await applyRetention(repo, 'keep2', { last: 2 });
  assert.equal(r?.removed.length, 1);
  const left = await loadSnapshots(repo);
  assert.equal(left.filter((s) => s.group === 'keep2').length, 2);
  assert.equal(left.filter((s) => s.group === 'other').length, 3);
});
