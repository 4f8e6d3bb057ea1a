/** diff, stats, forget, prune and check through the real CLI. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalBackend } from '../../src/repo/backend/index.ts';
import { Lock, Repository } from '../../src/repo/index.ts';
import { tempDir } from '../helpers/repo.ts';
import { jsonLines, lifeboat, PASSWORD, show } from './run-cli.ts';

void test('diff, stats, forget, prune, check', async (t) => {
  const dir = await tempDir(t, 'lb-cli-');
  const repo = join(dir, 'repo');
  const data = join(dir, 'data');
  await mkdir(data);
  await writeFile(join(data, 'gone.txt'), 'soon removed\n');
  await writeFile(join(data, 'grows.bin'), randomBytes(300 * 1024));
  const cli = (...args: string[]) => lifeboat(['-r', repo, ...args]);
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${show(r)}`);
    return r;
  };
  const snapshotFiles = async (): Promise<string[]> => (await readdir(join(repo, 'snapshots'))).sort();

  await ok('init');
  const first = jsonLines((await ok('--json', 'backup', data)).stdout).at(-1)!.snapshot_id as string;
  await rm(join(data, 'gone.txt'));
  await appendFile(join(data, 'grows.bin'), randomBytes(200 * 1024));
  await writeFile(join(data, 'new.txt'), 'new\n');
  await ok('backup', data);
  await ok('backup', data, '--tag', 'keep');

  await t.test('diff: added, removed and changed entries, then statistics', async () => {
    const r = await ok('--json', 'diff', first.slice(0, 8), 'latest');
    const lines = jsonLines(r.stdout);
    const changes = lines.filter((l) => l.message_type === 'change').map((l) => `${String(l.modifier)} ${String(l.path)}`);
    assert.ok(changes.includes(`- ${join(data, 'gone.txt')}`), r.stdout);
    assert.ok(changes.includes(`+ ${join(data, 'new.txt')}`), r.stdout);
    assert.ok(changes.includes(`M ${join(data, 'grows.bin')}`), r.stdout);
    const stats = lines.at(-1)!;
    assert.equal(stats.message_type, 'statistics');
    assert.equal(stats.added, 1);
    assert.equal(stats.removed, 1);
    assert.equal(stats.modified, 1);
  });

  await t.test('stats: counts and ratios', async () => {
    const r = await ok('--json', 'stats');
    const st = JSON.parse(r.stdout) as Record<string, number>;
    for (const f of ['snapshots', 'total_files', 'restore_size', 'unique_blobs', 'unique_size', 'stored_size', 'packs', 'dedup_ratio', 'compression_ratio']) {
      assert.equal(typeof st[f], 'number', `stats lacks ${f}`);
    }
    assert.equal(st.snapshots, 3);
    assert.equal(st.total_files, 2 + 2 + 2);
    assert.ok(st.dedup_ratio! > 1, 'three snapshots of mostly the same data deduplicate');
  });

  await t.test('forget: no rule is a usage error; --dry-run removes nothing', async () => {
    const before = await snapshotFiles();
    const [none, dry] = await Promise.all([cli('forget'), cli('--json', 'forget', '--keep-last', '1', '--dry-run')]);
    assert.equal(none.code, 2, show(none));
    assert.match(none.stderr, /no keep rule/);
    assert.equal(dry.code, 0, show(dry));
    const doc = JSON.parse(dry.stdout) as { dry_run: boolean; removed: string[]; groups: Array<{ keep: Array<{ reasons: string[] }> }> };
    assert.equal(doc.dry_run, true);
    assert.equal(doc.removed.length, 2);
    assert.deepEqual(doc.groups[0]!.keep[0]!.reasons, ['last snapshot']);
    assert.deepEqual(await snapshotFiles(), before);
  });

  await t.test('forget --keep-tag --prune: removes the first snapshot and frees its data', async () => {
    const r = await ok('--json', 'forget', '--keep-last', '1', '--keep-tag', 'keep', '--keep-within', '1h', '--prune');
    const doc = JSON.parse(r.stdout) as { removed: string[]; prune: Record<string, number> };
    // --keep-within 1h keeps all three (made seconds apart); nothing to remove, prune still runs.
    assert.deepEqual(doc.removed, []);
    assert.equal(typeof doc.prune.bytes_freed, 'number');
    const r2 = await ok('--json', 'forget', '--keep-last', '2', '--prune');
    const doc2 = JSON.parse(r2.stdout) as { removed: string[]; prune: Record<string, number> };
    assert.deepEqual(doc2.removed, [first]);
    assert.ok(doc2.prune.bytes_freed! > 0, r2.stdout);
    assert.equal((await snapshotFiles()).length, 2);
  });

  await t.test('prune --dry-run after a prune: nothing left to free; check finds no problem', async () => {
    // One after the other: prune takes the repository exclusively, even for a dry run.
    const prune = await ok('--json', 'prune', '--dry-run');
    const check = await ok('check', '--read-data');
    const p = JSON.parse(prune.stdout) as Record<string, unknown>;
    assert.equal(p.dry_run, true);
    assert.equal(p.bytes_freed, 0);
    assert.match(check.stdout, /no problems found/);
  });

  await t.test('a reader\'s lock (written without fsync) still stops prune, and is refreshed the same way', async () => {
    const r = await Repository.open(new LocalBackend(repo), PASSWORD);
    const lock = await Lock.acquire(r, { exclusive: false, purpose: 'restore', readOnly: true });
    try {
      const prune = await cli('prune');
      assert.equal(prune.code, 11, show(prune));
      assert.match(prune.stderr, /repository is locked: a lock is held by pid \d+ .*\(restore, since/m);
      await lock.refresh();
      const listed = JSON.parse((await ok('--json', 'unlock', '--remove-all')).stdout) as Array<{ id: string; purpose: string }>;
      assert.deepEqual(listed.map((l) => [l.id, l.purpose]), [[lock.id, 'restore']]);
    } finally {
      await lock.release();
      await r.backend.close();
    }
  });

  await t.test('a live exclusive lock: backup exits 11 with a hint; unlock leaves it, unlock --remove-all removes it', async () => {
    // This test process holds the lock, so it is alive and not stale.
    const r = await Repository.open(new LocalBackend(repo), PASSWORD);
    const lock = await Lock.acquire(r, { exclusive: true, purpose: 'test' });
    try {
      const backup = await cli('backup', data);
      assert.equal(backup.code, 11, show(backup));
      assert.match(backup.stderr, /^lifeboat: repository is locked: an exclusive lock is held by pid \d+ .*\(test, since/m);
      assert.match(backup.stderr, /^hint: .*lifeboat unlock/m);
      const stale = await ok('unlock');
      assert.match(stale.stdout, /no stale locks to remove/);
      const all = await ok('--json', 'unlock', '--remove-all');
      const removed = JSON.parse(all.stdout) as Array<{ id: string; purpose: string; exclusive: boolean }>;
      assert.deepEqual(removed.map((l) => [l.id, l.purpose, l.exclusive]), [[lock.id, 'test', true]]);
    } finally {
      await lock.release();
      await r.backend.close();
    }
  });
});
