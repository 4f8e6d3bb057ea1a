/**
 * LocalBackend: the shared conformance suite in temp folders, then what is local-only (layout, permissions,
 * crash leftovers, a real full disk), then the FaultBackend wrapper.
 */
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FaultBackend, LocalBackend, openLocal } from '../../../src/repo/backend/index.ts';
import type { Backend, FileInfo, FileType, Handle } from '../../../src/repo/backend/index.ts';
import { LifeboatError, isLifeboatError } from '../../../src/core/index.ts';
import type { ErrorCode } from '../../../src/core/index.ts';
import { backendConformance } from './conformance.ts';

const run = promisify(execFile);

/** Every temp folder made here; the `after` hook removes whatever a failed test's own cleanup did not. */
const made = new Set<string>();
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-backend-'));
  made.add(dir);
  return dir;
}

async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  made.delete(dir);
}

/** A created LocalBackend in a temp folder, removed after `fn` even if it throws. */
async function withLocal(fn: (b: LocalBackend, root: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  try {
    const root = join(dir, 'repo');
    const b = new LocalBackend(root);
    await b.create();
    await fn(b, root);
  } finally {
    await removeDir(dir);
  }
}

function hex(): string {
  return randomBytes(32).toString('hex');
}

async function listAll(b: Backend, type: FileType): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for await (const info of b.list(type)) out.push(info);
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, ...words: (string | RegExp)[]): Promise<LifeboatError> {
  let caught: LifeboatError | undefined;
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isLifeboatError(err), `expected a LifeboatError, got ${String(err)}`);
    assert.equal(err.code, code, `wrong code for: ${err.message}`);
    for (const w of words) {
      if (typeof w === 'string') assert.ok(err.message.includes(w), `message should contain ${w}: ${err.message}`);
      else assert.match(err.message, w);
    }
    caught = err;
    return true;
  });
  assert.ok(caught);
  return caught;
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

backendConformance('LocalBackend', async () => {
  const dir = await tempDir();
  return { backend: new LocalBackend(join(dir, 'repo')), cleanup: () => removeDir(dir) };
});

backendConformance('FaultBackend over LocalBackend, no faults cued', async () => {
  const dir = await tempDir();
  return { backend: new FaultBackend(new LocalBackend(join(dir, 'repo'))), cleanup: () => removeDir(dir) };
});

void describe('LocalBackend', () => {
  void it('creates the layout with private folders and files', () =>
    withLocal(async (b, root) => {
      assert.equal(b.location, root);
      assert.equal(await mode(root), 0o700);
      for (const folder of ['keys', 'snapshots', 'index', 'locks', 'data']) {
        assert.equal(await mode(join(root, folder)), 0o700, folder);
      }
      const prefixes = (await readdir(join(root, 'data'))).sort();
      assert.equal(prefixes.length, 256);
      assert.equal(prefixes[0], '00');
      assert.equal(prefixes[255], 'ff');
      for (const p of prefixes) assert.equal(await mode(join(root, 'data', p)), 0o700, `data/${p}`);

      const pack = `ab${hex().slice(2)}`;
      const where: [Handle, string][] = [
        [{ type: 'config', name: 'config' }, 'config'],
        [{ type: 'key', name: 'k1' }, 'keys/k1'],
        [{ type: 'snapshot', name: 's1' }, 'snapshots/s1'],
        [{ type: 'index', name: 'i1' }, 'index/i1'],
        [{ type: 'pack', name: pack }, `data/ab/${pack}`],
        [{ type: 'lock', name: 'l1' }, 'locks/l1'],
      ];
      for (const [h, rel] of where) {
        await b.save(h, randomBytes(10));
        assert.equal(await mode(join(root, rel)), 0o600, rel);
      }
    }));

  void it('ignores temp files left by a crashed save, and names that are not valid', () =>
    withLocal(async (b, root) => {
      const snap = hex();
      const pack = `ab${hex().slice(2)}`;
      await b.save({ type: 'snapshot', name: snap }, randomBytes(5));
      await b.save({ type: 'pack', name: pack }, randomBytes(6));
      await writeFile(join(root, '.tmp-0123456789abcdef'), 'half a config');
      await writeFile(join(root, 'snapshots', '.tmp-0123456789abcdef'), 'half a snapshot');
      await writeFile(join(root, 'snapshots', 'notes.txt'), 'somebody else');
      await writeFile(join(root, 'data', 'ab', '.tmp-0123456789abcdef'), 'half a pack');
      await mkdir(join(root, 'data', 'ab', 'abcdir'));
      assert.deepEqual(await listAll(b, 'config'), []);
      assert.deepEqual(await listAll(b, 'snapshot'), [{ name: snap, size: 5 }]);
      assert.deepEqual(await listAll(b, 'pack'), [{ name: pack, size: 6 }]);
    }));

  void it('removes its temp file when a save is aborted in flight', () =>
    withLocal(async (b, root) => {
      const name = `cd${hex().slice(2)}`;
      const ac = new AbortController();
      const saving = b.save({ type: 'pack', name }, randomBytes(16 * 1024 * 1024), { signal: ac.signal });
      ac.abort();
      await rejectsWith(saving, 'ABORTED');
      assert.deepEqual(await readdir(join(root, 'data', 'cd')), []);
    }));

  void it('keeps the temp file of a writer in data/, hidden from list, and removes it on discard and abort', () =>
    withLocal(async (b, root) => {
      const tempsIn = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => n.startsWith('.tmp-'));
      const w = b.writer('pack');
      await w.write(randomBytes(1000));
      assert.equal((await tempsIn(join(root, 'data'))).length, 1, 'written to a temp file as it comes');
      assert.deepEqual(await listAll(b, 'pack'), []);
      await w.discard();
      assert.deepEqual(await tempsIn(join(root, 'data')), []);

      const ac = new AbortController();
      const aborted = b.writer('pack', { signal: ac.signal });
      await aborted.write(randomBytes(1000));
      ac.abort();
      await rejectsWith(aborted.commit(`cd${hex().slice(2)}`), 'ABORTED');
      assert.deepEqual(await tempsIn(join(root, 'data')), []);

      // Committed into data/xx, made again if a copy tool dropped it.
      const name = `ef${hex().slice(2)}`;
      await rm(join(root, 'data', 'ef'), { recursive: true });
      const c = b.writer('pack');
      await c.write(Buffer.from('pack bytes'));
      await c.commit(name);
      assert.equal((await readFile(join(root, 'data', 'ef', name))).toString(), 'pack bytes');
      assert.equal((await stat(join(root, 'data', 'ef', name))).mode & 0o777, 0o600);
      assert.deepEqual(await tempsIn(join(root, 'data')), []);
    }));

  void it('removes old temp files of any folder, keeping recent ones and every complete file', () =>
    withLocal(async (b, root) => {
      const pack = `ab${hex().slice(2)}`;
      await b.save({ type: 'pack', name: pack }, randomBytes(6));
      const old = ['.tmp-00000000000000a1', join('data', '.tmp-00000000000000a2'), join('data', 'ab', '.tmp-00000000000000a3'), join('snapshots', '.tmp-00000000000000a4')];
      for (const f of old) {
        await writeFile(join(root, f), 'cut short');
        await utimes(join(root, f), new Date(1000), new Date(1000));
      }
      await writeFile(join(root, 'data', '.tmp-00000000000000b1'), 'being written');
      assert.equal(await b.removeStale(Date.now() - 60_000), 4);
      assert.deepEqual((await readdir(join(root, 'data'))).filter((n) => n.startsWith('.')), ['.tmp-00000000000000b1']);
      assert.deepEqual(await listAll(b, 'pack'), [{ name: pack, size: 6 }]);
    }));

  void it('names the file when a range is past the end', () =>
    withLocal(async (b, root) => {
      const name = hex();
      await b.save({ type: 'index', name }, randomBytes(10));
      const err = await rejectsWith(b.load({ type: 'index', name }, { offset: 5, length: 6 }), 'CORRUPT', /truncated/);
      assert.ok(err.message.includes(join(root, 'index', name)), err.message);
      assert.match(err.hint ?? '', /lifeboat check/);
    }));

  void it('rejects names that could escape their folder or pose as temp files', () =>
    withLocal(async (b, root) => {
      const bad: Handle[] = [
        { type: 'snapshot', name: '../config' },
        { type: 'snapshot', name: 'a/b' },
        { type: 'snapshot', name: '.tmp-1' },
        { type: 'snapshot', name: '' },
        { type: 'pack', name: 'zz0011' },
        { type: 'pack', name: 'a' },
        { type: 'config', name: 'other' },
      ];
      for (const h of bad) {
        await rejectsWith(b.save(h, randomBytes(1)), 'BACKEND', /invalid/);
        await rejectsWith(b.load(h), 'BACKEND', /invalid/);
      }
      assert.deepEqual(await readdir(join(root, 'snapshots')), []);
    }));

  void it('creates into an empty folder or a fresh disk, and again after an interrupted create', async () => {
    const dir = await tempDir();
    try {
      const empty = join(dir, 'empty');
      await mkdir(empty);
      await new LocalBackend(empty).create();

      const disk = join(dir, 'disk');
      await mkdir(join(disk, 'lost+found'), { recursive: true });
      await new LocalBackend(disk).create();

      // An earlier create ran, no config was written, a crash left a temp file: still fine.
      const again = new LocalBackend(empty);
      await writeFile(join(empty, 'data', 'ab', '.tmp-00'), 'x');
      await again.create();
      assert.deepEqual(await listAll(again, 'pack'), []);
    } finally {
      await removeDir(dir);
    }
  });

  void it('refuses to create into a folder holding other files, touching nothing', async () => {
    const dir = await tempDir();
    try {
      const photos = join(dir, 'photos');
      await mkdir(photos);
      await writeFile(join(photos, 'cat.jpg'), 'meow');
      const err = await rejectsWith(new LocalBackend(photos).create(), 'USAGE', /not empty/, 'cat.jpg');
      assert.match(err.hint ?? '', /lifeboat init/);
      assert.deepEqual(await readdir(photos), ['cat.jpg']);

      // A repository without a config but with data in it is not "empty-ish" either.
      const half = join(dir, 'half');
      const b = new LocalBackend(half);
      await b.create();
      await b.save({ type: 'snapshot', name: 's1' }, randomBytes(3));
      await rejectsWith(new LocalBackend(half).create(), 'USAGE', 'snapshots/s1');
      const pack = `0f${hex().slice(2)}`;
      await b.remove({ type: 'snapshot', name: 's1' });
      await b.save({ type: 'pack', name: pack }, randomBytes(3));
      await rejectsWith(new LocalBackend(half).create(), 'USAGE', pack);
    } finally {
      await removeDir(dir);
    }
  });

  void it('remakes a missing data/xx folder on save (copy tools drop empty folders)', () =>
    withLocal(async (b, root) => {
      await rm(join(root, 'data', '7e'), { recursive: true });
      const h: Handle = { type: 'pack', name: `7e${hex().slice(2)}` };
      await b.save(h, randomBytes(9));
      assert.equal((await b.stat(h)).size, 9);
      assert.equal(await mode(join(root, 'data', '7e')), 0o700);
    }));

  void it('lists a missing type folder as empty, unless the whole repository is gone', () =>
    withLocal(async (b, root) => {
      await b.save({ type: 'config', name: 'config' }, randomBytes(9));
      await rm(join(root, 'snapshots'), { recursive: true });
      assert.deepEqual(await listAll(b, 'snapshot'), []);
      await rm(root, { recursive: true });
      await rejectsWith(listAll(b, 'snapshot'), 'IO', /gone/);
    }));

  void it('maps a full disk to a clear IO error and keeps the repository intact', async (t) => {
    const dir = await tempDir();
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    } catch (err) {
      await removeDir(dir);
      t.skip(`cannot mount a 1 MiB tmpfs to fill (needs root and mount rights): ${String(err)}`);
      return;
    }
    try {
      const root = join(mnt, 'repo');
      const b = new LocalBackend(root);
      await b.create();
      const snap: Handle = { type: 'snapshot', name: hex() };
      const snapData = randomBytes(1000);
      await b.save(snap, snapData);

      const big: Handle = { type: 'pack', name: `ee${hex().slice(2)}` };
      const err = await rejectsWith(b.save(big, randomBytes(2 * 1024 * 1024)), 'IO', /disk full while writing/, big.name);
      assert.match(err.hint ?? '', /free space/);

      assert.deepEqual(await readdir(join(root, 'data', 'ee')), [], 'temp file removed');
      await rejectsWith(b.stat(big), 'NOT_FOUND');
      assert.deepEqual(await b.load(snap), snapData);
      assert.deepEqual(await listAll(b, 'pack'), []);
      // The space the failed save took was given back.
      const small: Handle = { type: 'pack', name: `ee${hex().slice(2)}` };
      await b.save(small, randomBytes(100 * 1024));
      assert.equal((await b.stat(small)).size, 100 * 1024);

      // The same through a writer: the write that does not fit fails, and its temp file is gone.
      const w = b.writer('pack');
      await rejectsWith(w.write(randomBytes(2 * 1024 * 1024)), 'IO', /disk full while writing/);
      await assert.rejects(w.commit(`ee${hex().slice(2)}`));
      assert.deepEqual((await readdir(join(root, 'data'))).filter((n) => n.startsWith('.tmp-')), [], 'temp file removed');
      assert.deepEqual(await listAll(b, 'pack'), [{ name: small.name, size: 100 * 1024 }]);
    } finally {
      await run('umount', [mnt]);
      await removeDir(dir);
    }
  });

  void it('openLocal opens an existing folder and refuses a missing one with a hint', async () => {
    const dir = await tempDir();
    try {
      const b = await openLocal(dir);
      assert.ok(b instanceof LocalBackend);
      assert.equal(b.location, dir);
      const missing = join(dir, 'nope');
      const err = await rejectsWith(openLocal(missing), 'REPO_NOT_FOUND', missing);
      assert.match(err.hint ?? '', /lifeboat init/);
      const file = join(dir, 'file');
      await writeFile(file, 'x');
      await rejectsWith(openLocal(file), 'REPO_NOT_FOUND', /not a folder/);
    } finally {
      await removeDir(dir);
    }
  });
});

void describe('FaultBackend', () => {
  async function withFault(fn: (f: FaultBackend, inner: LocalBackend) => Promise<void>): Promise<void> {
    await withLocal((inner) => fn(new FaultBackend(inner), inner));
  }
  const pack = (): Handle => ({ type: 'pack', name: hex() });

  void it('fails the next save of a type, storing nothing, then works again', () =>
    withFault(async (f) => {
      const h = pack();
      f.failNext('save', 'pack');
      const other: Handle = { type: 'snapshot', name: hex() };
      await f.save(other, randomBytes(3)); // a fault cued for packs leaves other types alone
      await rejectsWith(f.save(h, randomBytes(10)), 'BACKEND', /injected/, h.name);
      await rejectsWith(f.stat(h), 'NOT_FOUND');
      await f.save(h, randomBytes(10));
      assert.equal((await f.stat(h)).size, 10);
      assert.equal(f.calls('save', 'pack'), 2);
      assert.equal(f.pending(), 0);
    }));

  void it('applies save faults to the commit of a writer, which then leaves nothing', () =>
    withFault(async (f, inner) => {
      f.failNext('save', 'pack');
      const w = f.writer('pack');
      await w.write(randomBytes(100));
      const h = pack();
      await rejectsWith(w.commit(h.name), 'BACKEND', /injected/, h.name);
      assert.equal(f.calls('save', 'pack'), 1);
      assert.deepEqual(await listAll(inner, 'pack'), []);
      const ok = f.writer('pack');
      await ok.write(Buffer.from('x'));
      await ok.commit(h.name);
      assert.equal((await f.stat(h)).size, 1);
    }));

  void it('fails the Nth load with the given error', () =>
    withFault(async (f) => {
      const h: Handle = { type: 'index', name: hex() };
      await f.save(h, randomBytes(10));
      const boom = new LifeboatError('BACKEND', 'connection reset');
      f.failNth('load', 'index', 2, boom);
      await f.load(h);
      await assert.rejects(f.load(h), (err) => err === boom);
      await f.load(h);
      assert.equal(f.calls('load', 'index'), 3);
    }));

  void it('simulates a full disk on save', () =>
    withFault(async (f) => {
      const h = pack();
      f.diskFullNext('pack');
      const err = await rejectsWith(f.save(h, randomBytes(10)), 'IO', /disk full while writing/, h.name);
      assert.match(err.hint ?? '', /free space/);
      await rejectsWith(f.stat(h), 'NOT_FOUND');
    }));

  void it('truncates and flips loaded data on cue, leaving the stored file alone', () =>
    withFault(async (f, inner) => {
      const h = pack();
      const data = randomBytes(100);
      await f.save(h, data);
      f.truncateNextLoad('pack', 40);
      assert.deepEqual(await f.load(h), data.subarray(0, 40));
      f.flipNextLoad('pack');
      const flipped = await f.load(h);
      assert.equal(flipped.length, 100);
      assert.equal(flipped[50], (data[50] ?? 0) ^ 1);
      assert.deepEqual(Buffer.concat([flipped.subarray(0, 50), flipped.subarray(51)]), Buffer.concat([data.subarray(0, 50), data.subarray(51)]));
      f.flipNextLoad('pack', 0, 0xff);
      assert.equal((await f.load(h))[0], (data[0] ?? 0) ^ 0xff);
      assert.deepEqual(await f.load(h), data);
      assert.deepEqual(await inner.load(h), data);
    }));

  void it('applies load faults to each read of a reader', () =>
    withFault(async (f) => {
      const h = pack();
      const data = randomBytes(100);
      await f.save(h, data);
      const r = await f.reader(h);
      f.flipNextLoad('pack', 0, 0xff);
      assert.equal((await r.read(10, 20))[0], (data[10] ?? 0) ^ 0xff);
      f.failNext('load', 'pack');
      await assert.rejects(r.read(0, 10));
      assert.deepEqual(await r.read(0, 100), data, 'faults are used up');
      await r.close();
    }));

  void it('holds an operation until released, without sleeping', () =>
    withFault(async (f) => {
      const h = pack();
      const hold = f.holdNext('save', 'pack');
      const saving = f.save(h, randomBytes(10));
      await hold.reached;
      await rejectsWith(f.stat(h), 'NOT_FOUND'); // still held: nothing reached the inner backend
      hold.release();
      await saving;
      assert.equal((await f.stat(h)).size, 10);
    }));

  void it('lets a held operation be aborted', () =>
    withFault(async (f) => {
      const h = pack();
      const hold = f.holdNext('save', 'pack');
      const ac = new AbortController();
      const saving = f.save(h, randomBytes(10), { signal: ac.signal });
      await hold.reached;
      ac.abort();
      await rejectsWith(saving, 'ABORTED');
      hold.release();
      await rejectsWith(f.stat(h), 'NOT_FOUND');
    }));

  void it('fails a list on cue', () =>
    withFault(async (f) => {
      f.failNext('list', 'snapshot');
      await rejectsWith(listAll(f, 'snapshot'), 'BACKEND', /injected/);
      assert.deepEqual(await listAll(f, 'snapshot'), []);
    }));
});

