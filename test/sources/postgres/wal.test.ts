/** The WAL archive's bookkeeping without a server: names, idempotent push, gaps across timelines, retention. */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LifeboatError } from '../../../src/core/index.ts';
import { loadSnapshots, saveSnapshot, type Snapshot } from '../../../src/repo/index.ts';
import { checkWalArchive, formatLsn, listWal, parseLsn, parseTime, pruneWal, pushWal } from '../../../src/sources/postgres/index.ts';
import { newRepo, tempDir } from '../../helpers/repo.ts';

const SYSID = '7300000000000000001';
/** The smallest segment size PostgreSQL allows (initdb --wal-segsize=1), to keep the files small. */
const SEG = 1024 * 1024;

/** A WAL segment as PostgreSQL writes one: its size, and a long page header naming the cluster, timeline and position. */
function segment(dir: string, name: string, fill: number, sysid = SYSID): string {
  const p = join(dir, name);
  const b = Buffer.alloc(SEG, fill);
  b.writeUInt16LE(0xd110, 0);
  b.writeUInt16LE(0x0002, 2); // long header
  b.writeUInt32LE(parseInt(name.slice(0, 8), 16), 4);
  b.writeBigUInt64LE((BigInt('0x' + name.slice(8, 16)) * BigInt(0x100000000 / SEG) + BigInt('0x' + name.slice(16, 24))) * BigInt(SEG), 8);
  b.writeBigUInt64LE(BigInt(sysid), 24);
  b.writeUInt32LE(SEG, 32);
  b.writeUInt32LE(8192, 36);
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
  // Garbage named like a segment is refused, so the real one is archived when it comes (it used to be
  // stored, and the real segment refused as "different content" for ever after).
  for (const [i, size] of [0, 6, 100, SEG - 1].entries()) {
    const garbage = join(dir, 'garbage', '000000010000000000000009');
    mkdirSync(join(dir, 'garbage'), { recursive: true });
    writeFileSync(garbage, Buffer.alloc(size, 0x41 + i));
    await assert.rejects(pushWal(repo, garbage, { sysid: SYSID }), { code: 'USAGE', message: /not WAL file 000000010000000000000009/ });
  }
  const misnamed = segment(join(dir, 'garbage'), '00000001000000000000000A', 3);
  renameSync(misnamed, join(dir, 'garbage', '00000001000000000000000B'));
  await assert.rejects(pushWal(repo, join(dir, 'garbage', '00000001000000000000000B'), { sysid: SYSID }), /its header says it starts at/);
  writeFileSync(join(dir, 'garbage', '00000003.history'), 'hello');
  await assert.rejects(pushWal(repo, join(dir, 'garbage', '00000003.history'), { sysid: SYSID }), /not a timeline history file/);
  await assert.rejects(pushWal(repo, join(dir, 'evil.txt'), { sysid: SYSID }), /not a WAL file name/);

  await baseBackup(repo, '0/200028', '2026-11-30 10:00:00+00');
  await baseBackup(repo, '0/500028', '2026-11-30 12:00:00+00');
  const [health] = await checkWalArchive(repo, { readData: true });
  assert.deepEqual(health!.gaps.map((g) => [g.from, g.to]), [['000000010000000000000004', '000000010000000000000004']]);
  assert.deepEqual(health!.damaged, []);

  // A timeline switch: timeline 2 begins in segment 6; its history file names the switch point.
  writeFileSync(join(dir, '00000002.history'), '1\t0/600100\tno recovery target specified\n');
  await pushWal(repo, join(dir, '00000002.history'), { sysid: SYSID });
  await pushWal(repo, segment(dir, '000000020000000000000006', 7), { sysid: SYSID });
  await pushWal(repo, segment(dir, '000000020000000000000007', 8), { sysid: SYSID });
  const [h2] = await checkWalArchive(repo);
  assert.deepEqual(h2!.gaps.map((g) => g.from), ['000000010000000000000004']);

  // Retention: with the oldest base backup forgotten, WAL before the next one goes (history files stay).
  const removedNone = await pruneWal(repo, { dryRun: true });
  assert.deepEqual(removedNone[0]!.removed, []);
  const oldest = (await loadSnapshots(repo)).find((s) => (s.source as { start_lsn?: string }).start_lsn === '0/200028')!;
  await repo.backend.remove({ type: 'snapshot', name: oldest.id });
  const [r] = await pruneWal(repo);
  assert.deepEqual(r!.removed, ['000000010000000000000002', '000000010000000000000003']);
  assert.deepEqual((await listWal(repo, SYSID)).map((f) => f.file), ['000000010000000000000005', '000000010000000000000006', '00000002.history', '000000020000000000000006', '000000020000000000000007']);
  const [h3] = await checkWalArchive(repo);
  assert.deepEqual(h3!.gaps, []);
  // Garbage an older build stored under a segment's name: check --read-data names it, the real push replaces it.
  const poisoned = '000000020000000000000008';
  await repo.saveNamed('wal', `${SYSID}-${poisoned}`, Buffer.from('oops!!'));
  const [h4] = await checkWalArchive(repo, { readData: true });
  assert.deepEqual(h4!.damaged.map((d) => d.file), [poisoned]);
  assert.match(h4!.damaged[0]!.error, /not WAL file/);
  assert.equal(await pushWal(repo, segment(dir, poisoned, 9), { sysid: SYSID }), 'stored');
  const [h5] = await checkWalArchive(repo, { readData: true });
  assert.deepEqual(h5!.damaged, []);
  // The real segment behind the refused garbage above is archived when it comes.
  assert.equal(await pushWal(repo, segment(dir, '000000010000000000000009', 10), { sysid: SYSID }), 'stored');
  assert.ok((await listWal(repo, SYSID)).some((f) => f.file === '000000010000000000000009'));
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
