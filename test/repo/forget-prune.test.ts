/**
 * Retention end to end with a controlled clock: which snapshots a mixed policy keeps, then prune
 * reclaims the space of the forgotten ones and a full data check still passes.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ManualClock, type LifeboatError } from '../../src/core/index.ts';
import { FaultBackend, LocalBackend } from '../../src/repo/backend/index.ts';
import { checkRepository, forget, loadSnapshots, Lock, prune, repoStats, Repository } from '../../src/repo/index.ts';
import { backupFiles, restoreFiles } from '../../src/sources/files/index.ts';
import { newRepo, openRepo, PASSWORD, tempDir } from '../helpers/repo.ts';
import { seededBytes } from '../helpers/tree.ts';

it('forget keeps what a mixed policy says; prune reclaims space; check --read-data passes', { timeout: 5 * 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  await newRepo(dir);
  const clock = new ManualClock(Date.parse('2026-01-01T02:00:00Z'));
  const open = (): Promise<Repository> => Repository.open(new LocalBackend(join(dir, 'repo')), PASSWORD, { clock });
  // 40 daily backups at 02:00, each with a new 1 MiB file that replaces the previous day's.
  const times: string[] = [];
  for (let day = 0; day < 40; day++) {
    rmSync(join(src, `day-${day - 1}.bin`), { force: true });
    writeFileSync(join(src, `day-${day}.bin`), seededBytes(`day${day}`, 1 << 20));
    writeFileSync(join(src, 'constant.txt'), 'same every day\n');
    const r = await backupFiles(await open(), { paths: [src], workers: 0 });
    times.push(r.snapshot.time);
    await clock.advance(24 * 3600 * 1000);
  }
  // Keep the last 3, 7 dailies and 4 weeklies (ISO weeks, UTC).
  const dry = await forget(await open(), { last: 3, daily: 7, weekly: 4 }, { dryRun: true });
  assert.equal(dry.groups.length, 1);
  const kept = dry.groups[0]!.keep.map((k) => k.snapshot.time).sort();
  // Expected, by hand: the newest 7 days (day 33..39) cover last-3 and daily-7; weekly-4 takes the newest
  // snapshot of each of the 4 newest ISO weeks. 2026-02-09 (day 39) is a Monday.
  const day = (n: number): string => times[n]!;
  // Weeks (Mon..Sun): day 39 = Mon 2026-02-09 → its own week; day 38 = Sun 2026-02-08 ends the previous
  // week; day 31 = Sun 2026-02-01; day 24 = Sun 2026-01-25.
  const expected = [day(24), day(31), day(33), day(34), day(35), day(36), day(37), day(38), day(39)].sort();
  assert.deepEqual(kept, expected);
  assert.equal((await loadSnapshots(await open())).length, 40, 'dry run removes nothing');
  const before = await repoStats(await open(), await loadSnapshots(await open()));
  const res = await forget(await open(), { last: 3, daily: 7, weekly: 4 }, { prune: true });
  assert.equal(res.removed.length, 31);
  assert.ok(res.prune && res.prune.packsRemoved + res.prune.packsRepacked > 0);
  const left = await loadSnapshots(await open());
  assert.deepEqual(left.map((s) => s.time).sort(), expected);
  const after = await repoStats(await open(), left);
  // 31 forgotten days of 1 MiB incompressible data are gone from the stored size.
  assert.ok(before.storedSize - after.storedSize > 25 * (1 << 20), `freed ${before.storedSize - after.storedSize}`);
  const check = await checkRepository(await open(), { readData: true });
  assert.ok(check.ok, JSON.stringify(check.problems));
  assert.deepEqual(check.notes, []);
  // Every kept snapshot still restores its day's file.
  const oldest = left[0]!;
  const target = join(dir, 'restore');
  const rr = await restoreFiles(await open(), oldest, { target, verify: true });
  assert.deepEqual(rr.warnings, []);
  // A second prune finds nothing to do, but removes the temp file of a pack a killed backup was writing
  // (older than a stale lock), and keeps one written just now.
  const cutShort = join(dir, 'repo', 'data', '.tmp-00000000deadbeef');
  const recent = join(dir, 'repo', 'data', '.tmp-00000000cafef00d');
  writeFileSync(cutShort, 'half a pack');
  writeFileSync(recent, 'a pack being written');
  utimesSync(cutShort, new Date(clock.now() - 3600_000), new Date(clock.now() - 3600_000));
  utimesSync(recent, new Date(clock.now()), new Date(clock.now()));
  const again = await prune(await open());
  assert.equal(again.packsRemoved + again.packsRepacked + again.unindexedPacksRemoved, 0);
  assert.equal(again.tempFilesRemoved, 1);
  assert.ok(!existsSync(cutShort) && existsSync(recent));
});

it('an index loaded before a prune replaced index files is loaded again by refreshIndex', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  await newRepo(dir);
  const open = (): Promise<Repository> => openRepo(dir);
  for (let day = 0; day < 3; day++) {
    rmSync(join(src, `day-${day - 1}.bin`), { force: true });
    writeFileSync(join(src, `day-${day}.bin`), seededBytes(`day${day}`, 1 << 20));
    await backupFiles(await open(), { paths: [src], workers: 0 });
  }
  const stale = await open();
  await stale.loadIndex();
  const loadedBefore = [...stale.indexFiles].sort();
  const res = await forget(await open(), { last: 1 }, { prune: true });
  assert.ok(res.prune && res.prune.packsRemoved > 0);
  await stale.refreshIndex();
  const fresh = await open();
  await fresh.loadIndex();
  assert.notDeepEqual([...fresh.indexFiles].sort(), loadedBefore, 'prune replaced index files');
  assert.deepEqual([...stale.indexFiles].sort(), [...fresh.indexFiles].sort());
  assert.equal(stale.index.size, fresh.index.size);
  for (const loc of fresh.index.entries()) assert.deepEqual(stale.index.get(loc.id), loc);
});

it('a restore whose index was read while a prune ran, before its lock held, reads the blobs where they are now', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  await newRepo(dir);
  const open = (): Promise<Repository> => openRepo(dir);
  // One pack holds a.bin and b.bin; the second snapshot has only a.bin. Forgetting the first makes that
  // pack half used, so prune repacks a.bin's chunks elsewhere and deletes it.
  writeFileSync(join(src, 'a.bin'), seededBytes('a', 600_000));
  writeFileSync(join(src, 'b.bin'), seededBytes('b', 600_000));
  await backupFiles(await open(), { paths: [src], workers: 0 });
  rmSync(join(src, 'b.bin'));
  await backupFiles(await open(), { paths: [src], workers: 0 });
  const fault = new FaultBackend(new LocalBackend(join(dir, 'repo')));
  const repo = await Repository.open(fault, PASSWORD);
  const newest = (await loadSnapshots(repo)).sort((x, y) => x.time.localeCompare(y.time)).at(-1)!;
  const hold = fault.holdNext('save', 'lock');
  const target = join(dir, 'restore');
  const restoring = restoreFiles(repo, newest, { target });
  await hold.reached;
  // The restore's index is loaded (it loads while the lock is written); then a prune runs to completion.
  for (let i = 0; i < 2000 && repo.indexFiles.size === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(repo.indexFiles.size > 0, 'index loaded before the lock was written');
  const res = await forget(await open(), { last: 1 }, { prune: true });
  assert.ok(res.prune && res.prune.packsRepacked > 0, JSON.stringify(res.prune));
  hold.release();
  const rr = await restoring;
  assert.deepEqual(rr.warnings, []);
  assert.ok(readFileSync(join(target, src, 'a.bin')).equals(seededBytes('a', 600_000)));
});

it('forget shares the repository: it runs beside a backup\'s lock (forget --prune does not), and readers skip a snapshot forgotten between listing and reading', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  mkdirSync(src);
  await newRepo(dir);
  const open = (): Promise<Repository> => openRepo(dir);
  for (let i = 0; i < 3; i++) {
    writeFileSync(join(src, 'f.txt'), `version ${i}\n`);
    await backupFiles(await open(), { paths: [src], workers: 0 });
  }
  const held = await Lock.acquire(await open(), { exclusive: false, purpose: 'backup' });
  try {
    await assert.rejects(forget(await open(), { last: 2 }, { prune: true }), (err: LifeboatError) => err.code === 'REPO_LOCKED');
    const res = await forget(await open(), { last: 2 });
    assert.equal(res.removed.length, 1);
  } finally {
    await held.release();
  }
  // A reader lists two snapshots; one is forgotten before it reads it: not an error, not a problem.
  const fault = new FaultBackend(new LocalBackend(join(dir, 'repo')));
  const reader = await Repository.open(fault, PASSWORD);
  const hold = fault.holdNext('load', 'snapshot');
  const listing = loadSnapshots(reader);
  await hold.reached;
  const all = await loadSnapshots(await open());
  assert.equal(all.length, 2);
  await forget(await open(), {}, { ids: all.map((s) => s.id) });
  hold.release();
  // The held read meets a forgotten snapshot and skips it; the other was read before the forget.
  assert.equal((await listing).length, 1);
  const check = await checkRepository(await open(), {});
  assert.ok(check.ok, JSON.stringify(check.problems));
});
