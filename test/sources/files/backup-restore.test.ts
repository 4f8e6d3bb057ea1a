/**
 * The files source end to end through the library: every entry type round-trips; point-in-time restore
 * of a deleted file; rollback of a tree after a bad update; dedup; sparse files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { nativeFs } from '../../../src/core/index.ts';
import { describe, it } from 'node:test';
import { findNode, loadSnapshots, repoStats, type SnapshotEntry } from '../../../src/repo/index.ts';
import { backupFiles, restoreFiles } from '../../../src/sources/files/index.ts';
import { newRepo, openRepo, tempDir } from '../../helpers/repo.ts';
import { compareTrees, randomText, seededBytes, setXattr } from '../../helpers/tree.ts';

function makeEveryKind(src: string): void {
  mkdirSync(join(src, 'docs/empty'), { recursive: true });
  writeFileSync(join(src, 'docs/report.txt'), randomText(200_000));
  writeFileSync(join(src, 'docs/empty-file'), '');
  writeFileSync(join(src, 'big.bin'), seededBytes('big', 5 * 1024 * 1024 + 123));
  // sparse: 64 MiB with 1 MiB of data in the middle
  const fd = openSync(join(src, 'sparse.img'), 'w');
  writeSync(fd, seededBytes('sparse', 1 << 20), 0, 1 << 20, 32 << 20);
  closeSync(fd);
  truncateSync(join(src, 'sparse.img'), 64 << 20);
  symlinkSync('docs/report.txt', join(src, 'link-rel'));
  symlinkSync('/nonexistent/target', join(src, 'link-dangling'));
  linkSync(join(src, 'docs/report.txt'), join(src, 'hardlink-to-report'));
  execFileSync('mkfifo', [join(src, 'fifo')]);
  execFileSync('mknod', [join(src, 'null-dev'), 'c', '1', '3']);
  execFileSync('mknod', [join(src, 'loop-dev'), 'b', '7', '200']);
  writeFileSync(join(src, 'setuid-tool'), '#!/bin/sh\necho hi\n');
  chmodSync(join(src, 'setuid-tool'), 0o4755);
  writeFileSync(join(src, 'cap-tool'), 'binary-ish');
  execFileSync('setcap', ['cap_net_raw+ep', join(src, 'cap-tool')]);
  setXattr(join(src, 'docs/report.txt'), 'user.comment', 'quarterly');
  setXattr(join(src, 'docs'), 'user.dir-attr', Buffer.from([0, 1, 2, 255]));
  mkdirSync(join(src, 'sticky'));
  chmodSync(join(src, 'sticky'), 0o1777);
  writeFileSync(join(src, 'owned'), 'x');
  chownSync(join(src, 'owned'), 1234, 5678);
  utimesSync(join(src, 'owned'), new Date('2001-02-03T04:05:06.789Z'), new Date('2001-02-03T04:05:06.789Z'));
  execFileSync('touch', ['-h', '-d', '1999-12-31 23:59:59.123456789', join(src, 'link-rel')]);
  chmodSync(join(src, 'docs/empty'), 0o750);
}

describe('files: backup and restore', () => {
  it('round-trips every kind of entry with its metadata', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    makeEveryKind(src);
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [src] });
    assert.deepEqual(r.warnings, []);
    const target = join(dir, 'restore');
    const res = await restoreFiles(await openRepo(dir), { ...r.snapshot, id: r.id, short_id: r.id.slice(0, 8) }, { target, verify: true });
    assert.deepEqual(res.warnings, []);
    assert.deepEqual(compareTrees(src, join(target, src)), []);
    // sparse stays sparse: far fewer blocks than its size
    const st = statSync(join(target, src, 'sparse.img'));
    assert.equal(st.size, 64 << 20);
    assert.ok(st.blocks * 512 < 8 << 20, `restored sparse file uses ${st.blocks * 512} bytes`);
    // capability survives (getcap reads it back)
    assert.match(execFileSync('getcap', [join(target, src, 'cap-tool')], { encoding: 'utf8' }), /cap_net_raw=ep/);
    assert.ok(res.verified && res.verified > 5);
  });

  it('restores one deleted file from an older snapshot, and rolls a tree back after a bad update', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'share');
    mkdirSync(join(src, 'sub'), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(src, `sub/file-${i}.txt`), randomText(10_000 + i));
    writeFileSync(join(src, 'report.odt'), seededBytes('report', 300_000));
    const repo = await newRepo(dir);
    const good = await backupFiles(repo, { paths: [src] });
    const goodSnap: SnapshotEntry = { ...good.snapshot, id: good.id, short_id: good.id.slice(0, 8) };
    // Day 2: the report is deleted, and a backup runs.
    rmSync(join(src, 'report.odt'));
    await backupFiles(await openRepo(dir), { paths: [src] });
    // Restore just that file from the older snapshot, by its absolute path.
    const one = join(dir, 'one');
    const r1 = await restoreFiles(await openRepo(dir), goodSnap, { target: one, include: [join(src, 'report.odt')] });
    assert.deepEqual(r1.warnings, []);
    assert.ok(readFileSync(join(one, src, 'report.odt')).equals(seededBytes('report', 300_000)));
    assert.equal(r1.files, 1);
    // A copy of the known-good state to compare with after the rollback.
    const before = join(dir, 'known-good');
    await restoreFiles(await openRepo(dir), goodSnap, { target: before });
    // Bad update: rewrites some files, deletes others, adds junk.
    for (let i = 0; i < 20; i += 3) writeFileSync(join(src, `sub/file-${i}.txt`), 'ENCRYPTED BY RANSOMWARE');
    for (let i = 1; i < 20; i += 5) rmSync(join(src, `sub/file-${i}.txt`));
    writeFileSync(join(src, 'sub/README-RANSOM.txt'), 'pay up');
    chmodSync(join(src, 'sub'), 0o700);
    // Roll back in place: restore over the tree with delete.
    const rb = await restoreFiles(await openRepo(dir), goodSnap, { target: '/', include: [src], delete: true, verify: true });
    assert.deepEqual(rb.warnings, []);
    assert.equal(rb.removed, 1);
    assert.deepEqual(compareTrees(join(before, src), src), []);
  });

  it('reads only the data of a sparse file, and names its chunks as if every byte had been read', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    // 200 MiB (so it is read as segments of 64 MiB): a hole first, data islands not aligned to anything,
    // one across a segment boundary, a trailing hole.
    const sparse = join(src, 'disk.img');
    const fd = openSync(sparse, 'w');
    for (const [at, n] of [[5_000_123, 700_000], [67_000_000, 1_000_001], [140_000_000, 3]] as const) writeSync(fd, seededBytes(`island ${at}`, n), 0, n, at);
    closeSync(fd);
    truncateSync(sparse, 200 << 20);
    const dense = join(dir, 'dense', 'disk.img');
    mkdirSync(join(dir, 'dense'));
    execFileSync('cp', ['--sparse=never', sparse, dense]);
    assert.ok(statSync(sparse).blocks * 512 < 8 << 20 && statSync(dense).blocks * 512 >= 200 << 20);
    const repo = await newRepo(dir);
    const a = await backupFiles(repo, { paths: [sparse] });
    const b = await backupFiles(await openRepo(dir), { paths: [dense] });
    const nodeA = await findNode(await openRepo(dir).then(async (r) => (await r.loadIndex(), r)), a.snapshot.tree, sparse);
    const nodeB = await findNode(await openRepo(dir).then(async (r) => (await r.loadIndex(), r)), b.snapshot.tree, dense);
    assert.equal(nodeA?.size, 200 << 20);
    assert.deepEqual(nodeA?.content, nodeB?.content);
    assert.equal(b.snapshot.summary?.data_blobs, 0, 'the dense copy stores no data: every chunk was there');
    const target = join(dir, 'restore');
    const r = await restoreFiles(await openRepo(dir), { ...a.snapshot, id: a.id, short_id: a.id.slice(0, 8) }, { target, verify: true });
    assert.deepEqual(r.warnings, []);
    assert.ok(readFileSync(join(target, sparse)).equals(readFileSync(dense)));
    assert.ok(statSync(join(target, sparse)).blocks * 512 < 8 << 20);
    // The holes are not read: a 4 GiB file holding 1 MiB costs about 1 MiB of reading (rchar counts every
    // byte read(2) returned to this process, its workers included).
    const huge = join(src, 'huge.img');
    const hfd = openSync(huge, 'w');
    writeSync(hfd, seededBytes('huge', 1 << 20), 0, 1 << 20, 3 * 2 ** 30);
    closeSync(hfd);
    truncateSync(huge, 4 * 2 ** 30);
    const rchar = (): number => Number(/rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
    const before = rchar();
    const h = await backupFiles(await openRepo(dir), { paths: [huge] });
    const read = rchar() - before;
    assert.ok(read < 64 << 20, `read ${read} bytes of a 4 GiB file with 1 MiB of data`);
    const hn = await findNode(await openRepo(dir).then(async (r) => (await r.loadIndex(), r)), h.snapshot.tree, huge);
    assert.equal(hn?.size, 4 * 2 ** 30);
  });

  it('deduplicates: a second backup of the same data adds under 1 %, an insertion adds little', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'data');
    mkdirSync(src);
    const big = seededBytes('large', 24 * 1024 * 1024);
    writeFileSync(join(src, 'large.db'), big);
    for (let i = 0; i < 50; i++) writeFileSync(join(src, `t${i}.txt`), randomText(20_000));
    const repo = await newRepo(dir);
    const first = await backupFiles(repo, { paths: [src] });
    const stored1 = (await repoStats(await openRepo(dir), await loadSnapshots(await openRepo(dir)))).storedSize;
    // Same data again, read in full (no parent): nothing new but the snapshot's trees.
    const second = await backupFiles(await openRepo(dir), { paths: [src], parent: false });
    const stored2 = (await repoStats(await openRepo(dir), await loadSnapshots(await openRepo(dir)))).storedSize;
    assert.ok(stored2 - stored1 < stored1 * 0.01, `second backup added ${stored2 - stored1} bytes to ${stored1}`);
    assert.equal(second.snapshot.summary!.data_blobs, 0);
    assert.ok(first.snapshot.summary!.data_added > 24 * 1024 * 1024);
    // A copy of the large file with 100 bytes inserted near its start.
    writeFileSync(join(src, 'large-copy.db'), Buffer.concat([big.subarray(0, 5000), seededBytes('insert', 100), big.subarray(5000)]));
    const third = await backupFiles(await openRepo(dir), { paths: [src] });
    const added = third.snapshot.summary!.data_added;
    // Only the chunk(s) around the insertion are new: at most a couple of max-size chunks, far below the file.
    assert.ok(added < 4 * 1024 * 1024, `insertion added ${added} bytes`);
    assert.equal(third.snapshot.summary!.files_new, 1);
    assert.equal(third.snapshot.summary!.files_unmodified, 51);
  });

  it('carries unchanged metadata and trees over from the parent, and still sees every attribute change', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(join(src, 'docs/deep'), { recursive: true });
    writeFileSync(join(src, 'docs/a.txt'), 'a');
    writeFileSync(join(src, 'docs/deep/b.txt'), 'b');
    setXattr(join(src, 'docs/a.txt'), 'user.state', 'draft');
    setXattr(join(src, 'docs'), 'user.owner', 'ops');
    const repo = await newRepo(dir);
    const first = await backupFiles(repo, { paths: [src] });
    // Nothing changed: the same tree for the folder (the folders above it live in a busy /tmp), every
    // folder below unmodified.
    const second = await backupFiles(await openRepo(dir), { paths: [src] });
    const srcTree = async (root: string): Promise<string | undefined> => {
      const r = await openRepo(dir);
      await r.loadIndex();
      return (await findNode(r, root, src))?.subtree;
    };
    assert.equal(await srcTree(second.snapshot.tree), await srcTree(first.snapshot.tree));
    assert.equal(second.snapshot.summary!.dirs_changed, 0);
    // Attributes changed, added and removed (each updates ctime, not mtime or size).
    setXattr(join(src, 'docs/a.txt'), 'user.state', 'final');
    setXattr(join(src, 'docs/deep/b.txt'), 'user.new', 'yes');
    nativeFs().removeXattr(join(src, 'docs'), 'user.owner');
    const third = await backupFiles(await openRepo(dir), { paths: [src] });
    assert.notEqual(await srcTree(third.snapshot.tree), await srcTree(first.snapshot.tree));
    assert.equal(third.snapshot.summary!.files_changed, 2); // a new ctime: read again (and deduplicated)
    assert.equal(third.snapshot.summary!.data_blobs, 0);
    const target = join(dir, 'restore');
    const snaps = await loadSnapshots(await openRepo(dir));
    await restoreFiles(await openRepo(dir), snaps[2]!, { target });
    assert.deepEqual(compareTrees(src, join(target, src)), []);
    assert.equal(nativeFs().getXattr(join(target, src, 'docs/a.txt'), 'user.state')?.toString(), 'final');
    assert.deepEqual(nativeFs().listXattrs(join(target, src, 'docs')), []);
  });

  it('reads a large file in segments on several workers, and restores it byte for byte', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    // 150 MiB: three segments of at most 64 MiB; the last one shorter.
    const big = Buffer.concat([seededBytes('seg-a', 70 << 20), Buffer.alloc(30 << 20), seededBytes('seg-b', 50 << 20)]);
    writeFileSync(join(src, 'disk.img'), big);
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [src] });
    assert.deepEqual(r.warnings, []);
    assert.equal(r.snapshot.summary!.total_bytes_processed, big.length);
    // The same file again, read in full: segment boundaries stay put, so nothing new is stored.
    const again = await backupFiles(await openRepo(dir), { paths: [src], parent: false });
    assert.equal(again.snapshot.summary!.data_blobs, 0);
    const target = join(dir, 'restore');
    const snaps = await loadSnapshots(await openRepo(dir));
    const res = await restoreFiles(await openRepo(dir), snaps[1]!, { target, verify: true });
    assert.deepEqual(res.warnings, []);
    assert.ok(readFileSync(join(target, src, 'disk.img')).equals(big));
  });

  it('reports files that vanish or change while read, and still saves the snapshot', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'ok.txt'), 'fine');
    writeFileSync(join(src, 'vanishes.txt'), 'here for now');
    writeFileSync(join(src, 'grows.log'), 'line 1\n');
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, {
      paths: [src],
      faults: {
        beforeRead: (p) => {
          if (p.endsWith('vanishes.txt')) rmSync(p);
          if (p.endsWith('grows.log')) appendFileSync(p, 'line 2\n');
        },
      },
    });
    assert.deepEqual(
      r.warnings.map((w) => [w.path.slice(src.length), w.kind]).sort(),
      [['/grows.log', 'changed'], ['/vanishes.txt', 'vanished']],
    );
    assert.equal(r.snapshot.summary!.errors, 2);
    const snaps = await loadSnapshots(await openRepo(dir));
    assert.equal(snaps.length, 1);
    // The snapshot has what could be read: ok.txt and grows.log (as read), not the vanished file.
    const target = join(dir, 'restore');
    await restoreFiles(await openRepo(dir), snaps[0]!, { target });
    assert.equal(readFileSync(join(target, src, 'ok.txt'), 'utf8'), 'fine');
    assert.equal(readFileSync(join(target, src, 'grows.log'), 'utf8'), 'line 1\nline 2\n');
    assert.throws(() => statSync(join(target, src, 'vanishes.txt')), { code: 'ENOENT' });
    // A path given to back up that does not exist is a usage error: no snapshot.
    await assert.rejects(backupFiles(await openRepo(dir), { paths: [join(dir, 'nope')] }), { code: 'USAGE' });
    assert.equal((await loadSnapshots(await openRepo(dir))).length, 1);
  });
});
