/** The WAL archive's bookkeeping without a server: names, idempotent push, gaps across timelines, retention. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LifeboatError } from '../../../src/core/index.ts';
import { loadSnapshots, saveSnapshot, type Snapshot } from '../../../src/repo/index.ts';
import { checkWalArchive, formatLsn, listWal, parseLsn, parseTime, pruneWal, pushWal } from '../../../src/sources/postgres/index.ts';
import { newRepo, tempDir } from '../../helpers/repo.ts';

const SYSID = '7300000000000000001';
const SEG = 16 * 1024 * 1024;

function segment(dir: string, name: string, fill: number): string {
  const p = join(dir, name);
  const b = Buffer.alloc(8192, fill);
  b.writeUInt16LE(0xd110, 0);
  b.writeUInt16LE(0x0002, 2); // long header
  b.writeBigUInt64LE(BigInt(SYSID), 24);
  b.writeUInt32LE(SEG, 32);
  writeFileSync(p, b);
  return p;
}

async function baseBackup(repo: Awaited<ReturnType<typeof newRepo>>, startLsn: string, stopTime: string): Promise<void> {
  const snap: Snapshot = {
    time: new Date().toISOString(),
    tree: '0'.repeat(64),
    paths: ['/var/lib/postgresql/data'],
    hostname: 'db1',
    username: 'root',
    program_version: 'test',
    consistency: 'application',
    source: {
      kind: 'postgres', mode: 'physical', system_identifier: SYSID, timeline: 1, wal_segment_size: SEG, start_lsn: startLsn,
      stop_lsn: startLsn, stop_time: stopTime, start_time: stopTime, data_directory: '/var/lib/postgresql/data', backup_label: '', tablespace_map: '',
    },
  };
  await saveSnapshot(repo, snap);
}

test('wal: push is idempotent, refuses different content, and gaps and retention follow the base backups', async (t) => {
  const dir = await tempDir(t);
  const repo = await newRepo(dir);
  const names = ['000000010000000000000002', '000000010000000000000003', '000000010000000000000005', '000000010000000000000006'];
  for (const [i, n] of names.entries()) assert.equal(await pushWal(repo, segment(dir, n, i + 1), { sysid: SYSID }), 'stored');
  assert.equal(await pushWal(repo, join(dir, names[0]!), { sysid: SYSID }), 'already-archived');
  await assert.rejects(pushWal(repo, segment(dir, names[0]!, 99), { sysid: SYSID }), (e: unknown) => e instanceof LifeboatError && e.code === 'EXISTS');
  await assert.rejects(pushWal(repo, segment(dir, names[1]!, 2), { sysid: '42' }), /belongs to cluster/);
  await assert.rejects(pushWal(repo, join(dir, 'evil.txt'), { sysid: SYSID }), /not a WAL file name/);

  await baseBackup(repo, '0/2000028', '2026-11-30 10:00:00+00');
  await baseBackup(repo, '0/5000028', '2026-11-30 12:00:00+00');
  const [health] = await checkWalArchive(repo, { readData: true });
  assert.deepEqual(health!.gaps.map((g) => [g.from, g.to]), [['000000010000000000000004', '000000010000000000000004']]);
  assert.deepEqual(health!.damaged, []);

  // A timeline switch: timeline 2 begins in segment 6; its history file names the switch point.
  writeFileSync(join(dir, '00000002.history'), '1\t0/6000100\tno recovery target specified\n');
  await pushWal(repo, join(dir, '00000002.history'), { sysid: SYSID });
  await pushWal(repo, segment(dir, '000000020000000000000006', 7), { sysid: SYSID });
  await pushWal(repo, segment(dir, '000000020000000000000007', 8), { sysid: SYSID });
  const [h2] = await checkWalArchive(repo);
  assert.deepEqual(h2!.gaps.map((g) => g.from), ['000000010000000000000004']);

  // Retention: with the oldest base backup forgotten, WAL before the next one goes (history files stay).
  const removedNone = await pruneWal(repo, { dryRun: true });
  assert.deepEqual(removedNone[0]!.removed, []);
  const oldest = (await loadSnapshots(repo)).find((s) => (s.source as { start_lsn?: string }).start_lsn === '0/2000028')!;
  await repo.backend.remove({ type: 'snapshot', name: oldest.id });
  const [r] = await pruneWal(repo);
  assert.deepEqual(r!.removed, ['000000010000000000000002', '000000010000000000000003']);
  assert.deepEqual((await listWal(repo, SYSID)).map((f) => f.file), ['000000010000000000000005', '000000010000000000000006', '00000002.history', '000000020000000000000006', '000000020000000000000007']);
  const [h3] = await checkWalArchive(repo);
  assert.deepEqual(h3!.gaps, []);
});

test('wal: positions and times parse exactly', () => {
  assert.equal(formatLsn(parseLsn('16/B374D848')), '16/B374D848');
  assert.throws(() => parseLsn('nope'), /not an LSN/);
  assert.equal(parseTime('2026-11-30 02:05:46.548556+00'), parseTime('2026-11-30T03:05:46.548556+01:00'));
  assert.equal(parseTime('2026-11-30 02:05:46.548556 UTC') - parseTime('2026-11-30 02:05:46.548555Z'), 1n);
  assert.throws(() => parseTime('yesterday'), /not a time/);
  // Times that do not exist are refused, not rolled over into others.
  for (const t of ['2026-11-37 16:52:12+00', '2026-11-30 40:52:12+00', '2026-11-30 16:51:72+00', '2026-11-30 16:51:12+99', '2026-02-29 00:00:00', '2026-13-01 00:00:00', '2026-11-30 16:60:00Z']) {
    assert.throws(() => parseTime(t), { code: 'USAGE', message: /is not a time/ }, t);
  }
  assert.equal(parseTime('2024-02-29 00:00:00Z') + 86_400_000_000n, parseTime('2024-03-01 00:00:00Z'));
  assert.equal(parseTime('2026-11-30 23:59:59+14:00') < parseTime('2026-11-30 23:59:59Z'), true);
});
