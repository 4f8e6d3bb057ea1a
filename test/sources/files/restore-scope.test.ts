/**
 * What a restore may touch: a path backed up below a symlinked folder restores (its ancestors are folders);
 * `--delete` removes only inside the snapshot's backed-up paths, never in a folder the snapshot could not
 * list whole, never what the backup excluded; an `--include` that matches nothing is an error.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BlobWriter, checkRepository, encodeTree, findNode, loadSnapshots, saveSnapshot, type SnapshotEntry } from '../../../src/repo/index.ts';
import { backupFiles, restoreFiles, type BackupResult } from '../../../src/sources/files/index.ts';
import { newRepo, openRepo, tempDir } from '../../helpers/repo.ts';
import { listTree } from '../../helpers/tree.ts';

function entry(r: BackupResult): SnapshotEntry {
  return { ...r.snapshot, id: r.id, short_id: r.id.slice(0, 8) };
}

describe('files: what a restore touches', () => {
  it('backs up a path below a symlinked folder as folders, and check, dump and restore agree', async (t) => {
    const dir = await tempDir(t);
    mkdirSync(join(dir, 'real/docs'), { recursive: true });
    writeFileSync(join(dir, 'real/docs/a.txt'), 'alpha');
    symlinkSync('real', join(dir, 'link'));
    symlinkSync('a.txt', join(dir, 'real/docs/alias'));
    const repo = await newRepo(dir);
    // The path goes through the link: it is stored as given, its ancestors as folders.
    const r = await backupFiles(repo, { paths: [join(dir, 'link/docs'), join(dir, 'real/docs/alias')] });
    assert.deepEqual(r.warnings, []);
    const linkNode = await findNode(repo, r.snapshot.tree, join(dir, 'link'));
    assert.equal(linkNode?.type, 'dir');
    const file = await findNode(repo, r.snapshot.tree, join(dir, 'link/docs/a.txt'));
    assert.equal(file?.type, 'file');
    // A given path that is itself a symlink stays one.
    assert.equal((await findNode(repo, r.snapshot.tree, join(dir, 'real/docs/alias')))?.type, 'symlink');
    const checked = await checkRepository(await openRepo(dir));
    assert.ok(checked.ok, JSON.stringify(checked.problems));
    const target = join(dir, 'restore');
    const res = await restoreFiles(await openRepo(dir), entry(r), { target });
    assert.deepEqual(res.warnings, []);
    assert.equal(readFileSync(join(target, dir, 'link/docs/a.txt'), 'utf8'), 'alpha');
    assert.ok(lstatSync(join(target, dir, 'link')).isDirectory());
    assert.equal(readlinkSync(join(target, dir, 'real/docs/alias')), 'a.txt');
  });

  it('refuses to back up a path below another given path when a symlink lies between them', async (t) => {
    const dir = await tempDir(t);
    mkdirSync(join(dir, 'real/docs'), { recursive: true });
    mkdirSync(join(dir, 'root'));
    symlinkSync('real', join(dir, 'link'));
    symlinkSync(join(dir, 'real'), join(dir, 'root/ext'));
    const repo = await newRepo(dir);
    await assert.rejects(backupFiles(repo, { paths: [join(dir, 'link'), join(dir, 'link/docs')] }), { code: 'USAGE', message: /link is a symlink/ });
    // Not the outer path itself, but one on the way: backing up root would store ext as a link and lose docs.
    await assert.rejects(backupFiles(repo, { paths: [join(dir, 'root'), join(dir, 'root/ext/docs')] }), { code: 'USAGE', message: /ext is a symlink/ });
  });

  it('restoring in place keeps a symlink the target has where the snapshot has a folder above its paths', async (t) => {
    const dir = await tempDir(t);
    const sys = join(dir, 'sys');
    mkdirSync(join(sys, 'usr/bin'), { recursive: true });
    writeFileSync(join(sys, 'usr/bin/tool'), 'v1');
    symlinkSync('usr/bin', join(sys, 'bin')); // as Debian's /bin
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [join(sys, 'bin/tool')] });
    // The target is that system itself, laid out alike: the link stays, the file lands where it leads.
    const target = join(dir, 'target');
    mkdirSync(join(target, sys, 'usr/bin'), { recursive: true });
    writeFileSync(join(target, sys, 'usr/bin/other'), 'other');
    symlinkSync('usr/bin', join(target, sys, 'bin'));
    // A link leading out of the target is never gone through: it is replaced by a folder.
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    const res = await restoreFiles(await openRepo(dir), entry(r), { target, verify: true });
    assert.deepEqual(res.warnings, []);
    assert.ok(lstatSync(join(target, sys, 'bin')).isSymbolicLink());
    assert.equal(readFileSync(join(target, sys, 'usr/bin/tool'), 'utf8'), 'v1');
    assert.equal(readFileSync(join(target, sys, 'usr/bin/other'), 'utf8'), 'other');
    rmSync(join(target, sys), { recursive: true });
    mkdirSync(join(target, sys), { recursive: true });
    symlinkSync(outside, join(target, sys, 'bin'));
    const res2 = await restoreFiles(await openRepo(dir), entry(r), { target });
    assert.deepEqual(res2.warnings, []);
    assert.ok(lstatSync(join(target, sys, 'bin')).isDirectory());
    assert.deepEqual(readdirSync(outside), []);
    // A target that is itself a symlink to a folder is that folder.
    symlinkSync(join(dir, 'target'), join(dir, 'target-link'));
    const res3 = await restoreFiles(await openRepo(dir), entry(r), { target: join(dir, 'target-link') });
    assert.deepEqual(res3.warnings, []);
  });

  it('--delete removes only inside the backed-up paths: unrelated files in the target survive', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'x/src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a'), 'a');
    writeFileSync(join(src, 'sub/b'), 'b');
    writeFileSync(join(dir, 'x/sibling'), 'never backed up');
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [src] });
    const target = join(dir, 'target');
    // The target holds a system's worth of unrelated things, beside and above the restored path.
    mkdirSync(join(target, 'etc'), { recursive: true });
    writeFileSync(join(target, 'etc/passwd'), 'root:x:0:0');
    mkdirSync(join(target, dir, 'x/other'), { recursive: true });
    writeFileSync(join(target, dir, 'x/sibling-in-target'), 'keep');
    mkdirSync(join(target, src, 'sub'), { recursive: true });
    writeFileSync(join(target, src, 'added-later'), 'remove me');
    writeFileSync(join(target, src, 'sub/added-later'), 'remove me');
    const res = await restoreFiles(await openRepo(dir), entry(r), { target, delete: true });
    assert.deepEqual(res.warnings, []);
    assert.equal(res.removed, 2);
    assert.equal(readFileSync(join(target, 'etc/passwd'), 'utf8'), 'root:x:0:0');
    assert.ok(existsSync(join(target, dir, 'x/other')));
    assert.ok(existsSync(join(target, dir, 'x/sibling-in-target')));
    assert.ok(!existsSync(join(target, src, 'added-later')));
    assert.ok(!existsSync(join(target, src, 'sub/added-later')));
    // With --include, only inside the included path.
    writeFileSync(join(target, src, 'added-later'), 'stays: outside the include');
    writeFileSync(join(target, src, 'sub/added-later'), 'goes');
    const res2 = await restoreFiles(await openRepo(dir), entry(r), { target, delete: true, include: [join(src, 'sub')] });
    assert.equal(res2.removed, 1);
    assert.ok(existsSync(join(target, src, 'added-later')));
    assert.ok(!existsSync(join(target, src, 'sub/added-later')));
    // Restoring everything of a snapshot of `/`-less paths into `/`-like target never touches the root's other entries.
    assert.deepEqual(listTree(target).filter((p) => !p.startsWith(dir.slice(1))), ['etc', 'etc/passwd', dir.slice(1).split('/')[0]!]);
  });

  it('--delete spares what the backup excluded and folders it could not list whole', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(join(src, 'run'), { recursive: true });
    mkdirSync(join(src, 'open'), { recursive: true });
    writeFileSync(join(src, 'open/f'), 'f');
    writeFileSync(join(src, 'cache.tmp'), 'excluded');
    // A socket is not stored (useless without its process): the folder's listing is not all it held.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(src, 'run/app.sock'), resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [src], excludes: ['*.tmp'] });
    assert.deepEqual(r.warnings.map((w) => w.kind), ['skipped']);
    assert.equal((await findNode(repo, r.snapshot.tree, join(src, 'run')))?.incomplete, true);
    assert.equal((await findNode(repo, r.snapshot.tree, join(src, 'open')))?.incomplete, undefined);
    const target = join(dir, 'target');
    mkdirSync(join(target, src, 'run'), { recursive: true });
    mkdirSync(join(target, src, 'open'), { recursive: true });
    writeFileSync(join(target, src, 'run/other.pid'), 'must survive');
    writeFileSync(join(target, src, 'cache.tmp'), 'must survive');
    writeFileSync(join(target, src, 'open/new'), 'goes');
    const res = await restoreFiles(await openRepo(dir), entry(r), { target, delete: true });
    assert.equal(res.removed, 1);
    assert.equal(readFileSync(join(target, src, 'run/other.pid'), 'utf8'), 'must survive');
    assert.equal(readFileSync(join(target, src, 'cache.tmp'), 'utf8'), 'must survive');
    assert.ok(!existsSync(join(target, src, 'open/new')));
  });

  it('--include of a path the snapshot does not have is an error, not an empty success', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), 'x');
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [src] });
    const target = join(dir, 'target');
    for (const include of [join(src, 'doesnotexist'), `${src}/../../../../etc`, join(src, 'file/child'), '/elsewhere']) {
      await assert.rejects(restoreFiles(await openRepo(dir), entry(r), { target, include: [include] }), { code: 'NOT_FOUND', message: /matches/ }, include);
    }
    // One good and one bad include: the bad one is named, nothing is restored.
    await assert.rejects(restoreFiles(await openRepo(dir), entry(r), { target, include: [join(src, 'file'), join(src, 'nope')] }), { code: 'NOT_FOUND', message: /nope/ });
    assert.ok(!existsSync(join(target, src, 'file')));
    const ok = await restoreFiles(await openRepo(dir), entry(r), { target, include: [`${src}/./file`] });
    assert.equal(ok.files, 1);
  });

  it('restores a tree deeper than PATH_MAX below its target', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    // ~3,900 bytes deep: backed up as it is, over 4,096 bytes once below the target.
    let deep = src;
    while (deep.length < 3900) deep = join(deep, 'd'.repeat(200));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'file'), 'deep');
    writeFileSync(join(src, 'shallow'), 'shallow');
    symlinkSync('file', join(deep, 'link'));
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [src] });
    assert.deepEqual(r.warnings, []);
    const target = join(dir, 't'.repeat(250));
    const res = await restoreFiles(await openRepo(dir), entry(r), { target, verify: true });
    assert.deepEqual(res.warnings, []);
    assert.equal(res.verified, 2);
    // find(1) walks folders relative to each other, so it reads what no full path can reach.
    const listing = (root: string): string => execFileSync('find', ['.', '-printf', '%P %y %M %U %G %s %l\\n', '-type', 'f', '-exec', 'cat', '{}', ';'], { cwd: root, encoding: 'utf8' });
    assert.equal(listing(join(target, src)), listing(src));
    assert.ok(Buffer.byteLength(join(target, deep, 'file')) > 4096);
    // A target the kernel cannot reach at all is a clear error.
    const tooLong = join(dir, 'x'.repeat(300));
    await assert.rejects(restoreFiles(await openRepo(dir), entry(r), { target: tooLong }), { code: 'IO', message: /cannot create restore target/ });
  });

  it('a folder in the target where the snapshot has a file stays, with a clear warning, and is not counted as restored', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    writeFileSync(join(src, 'b'), 'b');
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [src] });
    const target = join(dir, 'target');
    mkdirSync(join(target, src, 'a'), { recursive: true });
    writeFileSync(join(target, src, 'a', 'mine'), 'keep');
    const res = await restoreFiles(await openRepo(dir), entry(r), { target, delete: true });
    assert.equal(res.files, 1);
    assert.deepEqual(res.warnings.map((w) => [w.path, w.message]), [[join(src, 'a'), 'a folder stands where the snapshot has no folder; it is left as it is']]);
    assert.equal(readFileSync(join(target, src, 'a', 'mine'), 'utf8'), 'keep');
  });

  it('an --include inside a folder whose tree is damaged is an integrity error, not "nothing matches"', async (t) => {
    const dir = await tempDir(t);
    const repo = await newRepo(dir);
    await repo.loadIndex();
    const w = new BlobWriter(repo);
    // A folder whose tree is gone (as after its pack was lost and the index repaired).
    const root = await w.store('tree', encodeTree([{ name: 'sub', type: 'dir', mode: 0o755, subtree: 'ab'.repeat(32) }]));
    await w.flush();
    const id = await saveSnapshot(repo, { time: new Date().toISOString(), tree: root, paths: ['/sub'], hostname: 'h', username: 'u', program_version: 't', source: { kind: 'files' }, consistency: 'crash' });
    const snap = (await loadSnapshots(await openRepo(dir))).find((x) => x.id === id)!;
    await assert.rejects(restoreFiles(await openRepo(dir), snap, { target: join(dir, 't'), include: ['/sub/f'] }), { code: 'INTEGRITY', message: /\/sub\/f lies in a folder/ });
  });

  it('an aborted restore stops at once, the workers\' ranges included: nothing more is written once it has rejected', { timeout: 120_000 }, async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    // Small files: one range of a pack holds thousands, each a worker's job.
    for (let i = 0; i < 10; i++) {
      mkdirSync(join(src, `d${i}`), { recursive: true });
      for (let j = 0; j < 1000; j++) writeFileSync(join(src, `d${i}`, `f${j}`), `${i}/${j} ${'x'.repeat(100)}\n`);
    }
    const repo = await newRepo(dir);
    const snap = entry(await backupFiles(repo, { paths: [src] }));
    const target = join(dir, 'target');
    const count = (): number => (existsSync(target) ? readdirSync(target, { recursive: true }).length : 0);
    const ac = new AbortController();
    const poll = setInterval(() => count() > 50 && ac.abort(), 1);
    t.after(() => clearInterval(poll));
    await assert.rejects(restoreFiles(await openRepo(dir), snap, { target, signal: ac.signal }), (err: Error & { code?: string }) => err.code === 'ABORTED');
    clearInterval(poll);
    const atRejection = count();
    assert.ok(atRejection < 10_011, `${atRejection} entries: the restore ran to its end`);
    // Nothing is still writing behind the rejection.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(count(), atRejection);
  });
});

