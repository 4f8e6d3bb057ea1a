/**
 * Damage that must not block a repository, and the commands that repair it: a damaged index file is read
 * around (pack headers), `rebuildIndex` drops entries into lost or damaged data so the next backup stores it
 * again, `repairSnapshots` rewrites what cannot be stored again, and check reports what restore refuses.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BlobWriter,
  checkRepository,
  encodeTree,
  findNode,
  loadSnapshots,
  prune,
  rebuildIndex,
  repairSnapshots,
  saveSnapshot,
  type Repository,
  type SnapshotEntry,
  type TreeNode,
} from '../../src/repo/index.ts';
import { backupFiles, restoreFiles, type BackupResult } from '../../src/sources/files/index.ts';
import { newRepo, openRepo, tempDir } from '../helpers/repo.ts';
import { compareTrees, seededBytes } from '../helpers/tree.ts';
import { LocalBackend } from '../../src/repo/backend/index.ts';
import { PASSWORD } from '../helpers/repo.ts';
import { Repository as Repo } from '../../src/repo/index.ts';

function entry(r: BackupResult): SnapshotEntry {
  return { ...r.snapshot, id: r.id, short_id: r.id.slice(0, 8) };
}

/** Two sources, each backed up on its own, so each snapshot has packs of its own. */
async function twoSnapshots(dir: string): Promise<{ a: BackupResult; b: BackupResult; srcA: string; srcB: string }> {
  const srcA = join(dir, 'a');
  const srcB = join(dir, 'b');
  for (const [src, seed] of [[srcA, 'a'], [srcB, 'b']] as const) {
    mkdirSync(join(src, 'sub'), { recursive: true });
    for (let i = 0; i < 4; i++) writeFileSync(join(src, `f${i}`), seededBytes(`${seed}${i}`, 300_000));
    writeFileSync(join(src, 'sub/small'), `${seed} small`);
  }
  const repo = await newRepo(dir);
  const a = await backupFiles(repo, { paths: [srcA] });
  const b = await backupFiles(await openRepo(dir), { paths: [srcB] });
  return { a, b, srcA, srcB };
}

/** The pack holding a blob, and its file. */
async function packOf(dir: string, blob: string): Promise<string> {
  const repo = await openRepo(dir);
  await repo.loadIndex();
  const pack = repo.index.get(blob)!.pack;
  return join(dir, 'repo/data', pack.slice(0, 2), pack);
}

async function openWarned(dir: string, warnings: string[]): Promise<Repository> {
  return Repo.open(new LocalBackend(join(dir, 'repo')), PASSWORD, { onWarning: (m) => warnings.push(m) });
}

describe('repair', () => {
  it('reads around a damaged index file: restore, find and backup go on from the packs, repair index rewrites it', async (t) => {
    const dir = await tempDir(t);
    const { a, srcA } = await twoSnapshots(dir);
    const indexDir = join(dir, 'repo/index');
    for (const name of readdirSync(indexDir)) {
      const p = join(indexDir, name);
      const bytes = readFileSync(p);
      bytes[60]! ^= 0x10;
      writeFileSync(p, bytes);
    }
    const warnings: string[] = [];
    const res = await restoreFiles(await openWarned(dir, warnings), entry(a), { target: join(dir, 'r1'), verify: true });
    assert.deepEqual(res.warnings, []);
    assert.ok(warnings.some((w) => /index file \w+ is damaged/.test(w)), warnings.join('\n'));
    assert.deepEqual(compareTrees(srcA, join(dir, 'r1', srcA)), []);
    assert.equal((await findNode(await openWarned(dir, []), a.snapshot.tree, join(srcA, 'sub/small')))?.type, 'file');
    // A backup goes on too, and indexes what it found through the headers.
    writeFileSync(join(srcA, 'new'), 'new');
    const again = await backupFiles(await openWarned(dir, []), { paths: [srcA] });
    assert.deepEqual(again.warnings, []);
    const c = await checkRepository(await openRepo(dir));
    assert.ok(c.problems.every((p) => p.kind === 'index' && /repair index/.test(p.hint ?? '')), JSON.stringify(c.problems));
    await assert.rejects(prune(await openRepo(dir)), { code: 'INTEGRITY', hint: /repair index/ });
    const files = readdirSync(indexDir).length;
    const rb = await rebuildIndex(await openRepo(dir));
    assert.equal(rb.indexFilesRemoved, files);
    assert.equal(readdirSync(indexDir).length, rb.indexFilesWritten);
    assert.ok((await checkRepository(await openRepo(dir), { readData: true })).ok);
    assert.ok((await prune(await openRepo(dir))).packsBefore > 0);
  });

  it('after a pack is lost, repair index drops its entries, so the next backup stores that data again and heals the older snapshot', async (t) => {
    const dir = await tempDir(t);
    const { a, srcA } = await twoSnapshots(dir);
    const f0 = await findNode(await openRepo(dir).then(async (r) => (await r.loadIndex(), r)), a.snapshot.tree, join(srcA, 'f0'));
    rmSync(await packOf(dir, f0!.content![0]!));
    const c = await checkRepository(await openRepo(dir));
    const p = c.problems.find((x) => x.kind === 'pack')!;
    assert.match(p.message, /missing/);
    assert.match(p.hint!, /repair index.*back up again/);
    // Without repair, a new backup would count on the lost pack: after it, the data is stored anew.
    const rb = await rebuildIndex(await openRepo(dir));
    assert.ok(rb.entriesDropped > 0);
    const fresh = await backupFiles(await openRepo(dir), { paths: [srcA], parent: false });
    const r = await restoreFiles(await openRepo(dir), entry(fresh), { target: join(dir, 'r'), verify: true });
    assert.deepEqual(r.warnings, []);
    assert.deepEqual(compareTrees(srcA, join(dir, 'r', srcA)), []);
    // The same chunks are back, so the first snapshot is whole again.
    assert.ok((await checkRepository(await openRepo(dir), { readData: true })).ok);
    const old = await restoreFiles(await openRepo(dir), entry(a), { target: join(dir, 'r-old') });
    assert.deepEqual(old.warnings, []);
  });

  it('repair index --read-data leaves out a damaged chunk and keeps its intact neighbours', async (t) => {
    const dir = await tempDir(t);
    const { a, srcA } = await twoSnapshots(dir);
    const repo = await openRepo(dir);
    await repo.loadIndex();
    const f1 = await findNode(repo, a.snapshot.tree, join(srcA, 'f1'));
    const loc = repo.index.get(f1!.content![0]!)!;
    const neighbour = [...repo.index.packIds()].includes(loc.pack) ? (await findNode(repo, a.snapshot.tree, join(srcA, 'f0')))!.content!.find((id) => repo.index.get(id)!.pack === loc.pack && id !== loc.id) : undefined;
    const path = await packOf(dir, loc.id);
    const bytes = readFileSync(path);
    bytes[loc.offset + 30]! ^= 0x01;
    writeFileSync(path, bytes);
    const plain = await rebuildIndex(await openRepo(dir));
    assert.equal(plain.damagedBlobs.length, 0, 'the header is intact: only reading the data finds it');
    const rb = await rebuildIndex(await openRepo(dir), { readData: true });
    assert.deepEqual(rb.damagedBlobs.map((d) => d.id), [loc.id]);
    const after = await openRepo(dir);
    await after.loadIndex();
    assert.equal(after.index.has(loc.id), false);
    // The intact neighbours were copied out of the damaged pack, which is gone.
    assert.ok(neighbour, 'f0 shares the pack');
    assert.deepEqual(rb.salvaged.map((x) => x.pack), [loc.pack]);
    assert.ok(after.index.has(neighbour) && after.index.get(neighbour)!.pack !== loc.pack);
    assert.equal(existsSync(path), false);
    const c = await checkRepository(await openRepo(dir), { readData: true });
    assert.ok(c.problems.every((p) => p.kind === 'blob' && p.id === loc.id), JSON.stringify(c.problems));
  });

  it('repair index never drops a pack on its damaged header alone: it keeps what the old index said, --read-data salvages it', async (t) => {
    const dir = await tempDir(t);
    const { a, srcA } = await twoSnapshots(dir);
    const repo = await openRepo(dir);
    await repo.loadIndex();
    const f0 = await findNode(repo, a.snapshot.tree, join(srcA, 'f0'));
    const path = await packOf(dir, f0!.content![0]!);
    const bytes = readFileSync(path);
    bytes[bytes.length - 20]! ^= 0x01; // inside the sealed header: every blob is intact
    writeFileSync(path, bytes);
    const whole = async (target: string): Promise<void> => {
      const r = await restoreFiles(await openRepo(dir), entry(a), { target: join(dir, target), verify: true });
      assert.deepEqual(r.warnings, []);
      assert.deepEqual(compareTrees(srcA, join(dir, target, srcA)), []);
    };
    await whole('r0');
    const plain = await rebuildIndex(await openRepo(dir));
    assert.deepEqual(plain.keptUnverified.map((k) => k.pack), [path.split('/').pop()]);
    assert.equal(plain.entriesDropped, 0);
    await whole('r1');
    const verified = await rebuildIndex(await openRepo(dir), { readData: true });
    assert.deepEqual(verified.salvaged.map((x) => x.pack), [path.split('/').pop()]);
    assert.deepEqual(verified.damagedBlobs, []);
    await whole('r2');
    assert.ok((await checkRepository(await openRepo(dir), { readData: true })).ok);
  });

  it('repair snapshots leaves out what is lost, says so, and the repaired snapshot restores', async (t) => {
    const dir = await tempDir(t);
    const { b, srcA } = await twoSnapshots(dir);
    // A file added later sits in a pack of its own.
    writeFileSync(join(srcA, 'late'), seededBytes('late', 200_000));
    const a = await backupFiles(await openRepo(dir), { paths: [srcA] });
    const repo = await openRepo(dir);
    await repo.loadIndex();
    const late = await findNode(repo, a.snapshot.tree, join(srcA, 'late'));
    rmSync(await packOf(dir, late!.content![0]!));
    rmSync(join(srcA, 'late')); // gone at the source too: no backup can bring it back
    await rebuildIndex(await openRepo(dir));
    const dry = await repairSnapshots(await openRepo(dir), { dryRun: true });
    assert.equal(dry.repaired.length, 1);
    assert.equal(dry.repaired[0]!.id, undefined);
    assert.equal((await loadSnapshots(await openRepo(dir))).length, 3, 'a dry run writes nothing');
    // Once without forget, then again with it (as after an interrupted run): one repaired copy, no original.
    const kept = await repairSnapshots(await openRepo(dir));
    assert.equal(kept.repaired.length, 1);
    assert.equal((await loadSnapshots(await openRepo(dir))).length, 4);
    const again = await repairSnapshots(await openRepo(dir), { forget: true });
    assert.deepEqual(again.repaired, []);
    assert.deepEqual(again.forgotten, [a.id]);
    const r = { ...kept, intact: 2 };
    assert.equal(r.intact, 2);
    const fixed = r.repaired[0]!;
    assert.equal(fixed.original, a.id);
    assert.deepEqual(fixed.lost.map((l) => l.path), [join(srcA, 'late')]);
    assert.match(fixed.lost[0]!.reason, /chunks are lost/);
    const snaps = await loadSnapshots(await openRepo(dir));
    assert.equal(snaps.length, 3);
    assert.ok(snaps.some((s) => s.id === b.id));
    assert.ok(!snaps.some((s) => s.id === a.id), 'the original is forgotten');
    const repaired = snaps.find((s) => s.id === fixed.id)!;
    assert.ok(repaired.tags?.includes('repaired'));
    assert.equal(repaired.original, a.id);
    assert.equal(repaired.time, a.snapshot.time);
    assert.deepEqual(repaired.repair!.lost.map((l) => l.path), [join(srcA, 'late')]);
    assert.ok((await checkRepository(await openRepo(dir), { readData: true })).ok);
    const res = await restoreFiles(await openRepo(dir), repaired, { target: join(dir, 'r'), verify: true });
    assert.deepEqual(res.warnings, []);
    assert.deepEqual(compareTrees(srcA, join(dir, 'r', srcA)), []);
    // The folder that lost an entry is marked incomplete: --delete leaves extras in it alone.
    assert.equal((await findNode(await openRepo(dir), repaired.tree, srcA))?.incomplete, true);
    // Run again: nothing left to do.
    assert.equal((await repairSnapshots(await openRepo(dir))).repaired.length, 0);
  });

  it('check reports what a restore refuses, and repair snapshots turns a symlink holding entries into its folder', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    await repo.loadIndex();
    const w = new BlobWriter(repo);
    const content = await w.store('data', Buffer.from('payload'));
    const file = (name: string): TreeNode => ({ name, type: 'file', mode: 0o644, size: 7, content: [content], mtime: '2020-01-01T00:00:00.000000000Z' });
    const inner = await w.store('tree', encodeTree([file('true')]));
    const root = await w.store(
      'tree',
      encodeTree([
        // What a backup of /bin/true wrote when /bin was a symlink to usr/bin.
        { name: 'bin', type: 'symlink', mode: 0o777, linktarget: 'usr/bin', size: 7, subtree: inner },
        { name: 'weird', type: 'door' as TreeNode['type'], mode: 0o644 },
        { name: 'x', type: 'file', mode: 0o644, size: 7, content: [content], xattrs: { 'user.a\u0000b': 'eA==' } },
        file('twice'),
        file('twice'),
        file('fine'),
      ]),
    );
    await w.flush();
    const id = await saveSnapshot(repo, { time: new Date().toISOString(), tree: root, paths: ['/bin/true', '/fine', '/twice', '/weird', '/x'], hostname: 'h', username: 'u', program_version: 'old', source: { kind: 'files' }, consistency: 'crash' });
    for (const workers of [0, 2]) {
      const c = await checkRepository(await openRepo(dir), { readData: true, workers });
      const p = c.problems.find((x) => x.kind === 'tree' && x.id === root);
      assert.ok(p, JSON.stringify(c.problems));
      for (const why of [/bin: symlink with entries stored beneath it/, /weird: unknown entry type/, /x: extended attribute with an invalid name/, /twice: a second entry/]) assert.match(p.message, why);
      assert.match(p.hint!, /repair snapshots/);
      assert.deepEqual(p.snapshots, [id.slice(0, 8)]);
    }
    const snap = (await loadSnapshots(await openRepo(dir)))[0]!;
    const restored = await restoreFiles(await openRepo(dir), snap, { target: join(dir, 'before') });
    assert.equal(restored.warnings.filter((x) => x.kind === 'unsafe').length, 4, JSON.stringify(restored.warnings));
    const r = await repairSnapshots(await openRepo(dir));
    assert.deepEqual(r.repaired[0]!.converted, ['/bin']);
    assert.equal(r.repaired[0]!.lostCount, 3);
    assert.ok((await checkRepository(await openRepo(dir))).problems.every((x) => x.snapshots?.every((s) => s === id.slice(0, 8))), 'only the original is still reported');
    const fixed = (await loadSnapshots(await openRepo(dir))).find((s) => s.id === r.repaired[0]!.id)!;
    const res = await restoreFiles(await openRepo(dir), fixed, { target: join(dir, 'after') });
    assert.deepEqual(res.warnings, []);
    assert.equal(readFileSync(join(dir, 'after/bin/true'), 'utf8'), 'payload');
    assert.ok(statSync(join(dir, 'after/bin')).isDirectory());
  });

  it('prune stops while a chunk a snapshot uses is in no index file', async (t) => {
    const dir = await tempDir(t);
    await twoSnapshots(dir);
    for (const name of readdirSync(join(dir, 'repo/index'))) rmSync(join(dir, 'repo/index', name));
    // A backup would adopt them; prune must not take them for garbage.
    await assert.rejects(prune(await openRepo(dir)), { code: 'INTEGRITY', hint: /repair index/ });
    assert.ok(readdirSync(join(dir, 'repo/data')).some((d) => readdirSync(join(dir, 'repo/data', d)).length > 0));
    await rebuildIndex(await openRepo(dir));
    assert.ok((await checkRepository(await openRepo(dir), { readData: true })).ok);
  });
});
