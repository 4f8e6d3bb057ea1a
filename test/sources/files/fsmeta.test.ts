import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nativeFs } from '../../../src/core/index.ts';
import {
  applyMeta,
  createSpecial,
  formatTime,
  metaEqual,
  NameCache,
  parseTime,
  readMeta,
} from '../../../src/sources/files/fsmeta.ts';
import type { EntryMeta } from '../../../src/sources/files/fsmeta.ts';

let tmp = '';
let src = '';
let dst = '';

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lifeboat-fsmeta-'));
  src = path.join(tmp, 'src');
  dst = path.join(tmp, 'dst');
  fs.mkdirSync(src);
  fs.mkdirSync(dst);
});

after(() => {
  if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
});

/** lutimes with exact nanoseconds, via touch(1): set independently of the code under test. */
function touchNs(p: string, iso: string): void {
  const { sec, nsec } = parseTime(iso);
  execFileSync('touch', ['-h', '-d', `@${sec}.${String(nsec).padStart(9, '0')}`, '--', p]);
}

/** An EntryMeta with everything set to something plausible, for hand-made cases. */
function fakeMeta(over: Partial<EntryMeta>): EntryMeta {
  const t = '2024-01-02T03:04:05.000000000Z';
  return { type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: t, atime: t, ctime: t, inode: 1, dev: 1, nlink: 1, ...over };
}


/** Restores `meta` at `to` the way restore does: content or node first, then metadata. */
function restore(meta: EntryMeta, from: string, to: string): string[] {
  if (meta.type === 'file') fs.copyFileSync(from, to);
  else if (meta.type === 'dir') fs.mkdirSync(to);
  else assert.equal(createSpecial(to, meta), true);
  return applyMeta(to, meta, { owner: true });
}

void describe('formatTime / parseTime', () => {
  void it('round-trips nanoseconds, before and after 1970', () => {
    for (const ns of [0n, 1n, -1n, 1_704_164_645_123_456_789n, -1_500_000_000n, 253_402_300_799_999_999_999n]) {
      const s = formatTime(ns);
      assert.equal(parseTime(s).ns, ns, s);
    }
    assert.equal(formatTime(1_704_164_645_123_456_789n), '2024-01-02T03:04:05.123456789Z');
    assert.equal(formatTime(-1n), '1969-12-31T23:59:59.999999999Z');
    assert.deepEqual(parseTime('1969-12-31T23:59:59.999999999Z'), { sec: -1, nsec: 999_999_999, ns: -1n });
  });

  void it('agrees with Date for many random times', () => {
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor((Math.random() - 0.5) * 2 * 8e12);
      const ns = BigInt(ms) * 1_000_000n + 123_456n;
      const iso = new Date(ms).toISOString();
      const expected = iso.startsWith('+') || iso.startsWith('-') ? undefined : `${iso.slice(0, 23)}123456Z`;
      if (expected !== undefined) assert.equal(formatTime(ns), expected);
      assert.equal(parseTime(formatTime(ns)).ns, ns);
    }
  });

  void it('reads other RFC 3339 forms and rejects garbage', () => {
    assert.equal(parseTime('2024-01-02T04:04:05.5+01:00').ns, parseTime('2024-01-02T03:04:05.500000000Z').ns);
    assert.equal(parseTime('2024-01-02T03:04:05Z').nsec, 0);
    assert.equal(parseTime('+012024-01-02T03:04:05Z').ns, parseTime(formatTime(parseTime('+012024-01-02T03:04:05Z').ns)).ns);
    for (const bad of ['', '2024-02-30T00:00:00Z', '2024-01-02 03:04:05Z', '2024-01-02T03:04:05.1234567890Z', '2024-01-02T24:00:00Z']) {
      assert.throws(() => parseTime(bad), { code: 'CORRUPT' }, bad);
    }
  });
});

void describe('NameCache', () => {
  void it('parses passwd and group files once; unknown ids have no name', () => {
    const pw = path.join(tmp, 'passwd');
    const gr = path.join(tmp, 'group');
    fs.writeFileSync(pw, 'root:x:0:0:root:/root:/bin/bash\n# comment\nalice:x:1234:5678::/home/alice:/bin/sh\nalias:x:1234:1::/:/bin/sh\n');
    fs.writeFileSync(gr, 'root:x:0:\nstaff:x:5678:alice\n');
    const names = new NameCache(pw, gr);
    assert.equal(names.userName(1234), 'alice');
    assert.equal(names.groupName(5678), 'staff');
    assert.equal(names.userName(999), undefined);
    assert.equal(names.uidOf('alias'), 1234);
    assert.equal(names.gidOf('staff'), 5678);
    fs.rmSync(pw);
    assert.equal(names.userName(0), 'root', 'cached');
    assert.equal(new NameCache(path.join(tmp, 'missing'), gr).userName(0), undefined);
  });
});

void describe('readMeta → createSpecial/applyMeta → readMeta', () => {
  const mtime = '2021-06-07T08:09:10.123456789Z';
  const names = new NameCache(path.join(os.tmpdir(), 'no-such-passwd'), path.join(os.tmpdir(), 'no-such-group'));

  function roundTrip(name: string, setup: (p: string) => void, check?: (m: EntryMeta, copy: EntryMeta) => void): void {
    const from = path.join(src, name);
    const to = path.join(dst, name);
    setup(from);
    touchNs(from, mtime);
    const meta = readMeta(from);
    assert.equal(meta.mtime, mtime, 'nanosecond mtime read');
    const warnings = restore(meta, from, to);
    assert.deepEqual(warnings, []);
    const copy = readMeta(to);
    assert.deepEqual(metaEqual(meta, copy), []);
    // Nothing is lost, to the nanosecond.
    assert.equal(copy.mtime, mtime);
    check?.(meta, copy);
  }

  void it('regular file: setuid mode, owner, user xattr, file capability', () => {
    roundTrip(
      'suid',
      (p) => {
        fs.writeFileSync(p, 'binary');
        setXattrTest(p, 'user.lifeboat.test', Buffer.from([0, 1, 2, 255]));
        // chown clears capabilities and setuid, so it goes first here as in applyMeta.
        fs.lchownSync(p, 1234, 5678);
        execFileSync('setcap', ['cap_net_raw+ep', p]);
        fs.chmodSync(p, 0o4755);
      },
      (meta, copy) => {
        assert.equal(meta.type, 'file');
        assert.equal(meta.mode, 0o4755);
        assert.equal(meta.uid, 1234);
        assert.equal(meta.gid, 5678);
        assert.equal(meta.size, 6);
        assert.deepEqual(Object.keys(meta.xattrs ?? {}), ['security.capability', 'user.lifeboat.test']);
        assert.equal(meta.xattrs?.['user.lifeboat.test'], 'AAEC/w==');
        assert.equal(copy.mode, 0o4755, 'setuid survives chown');
        const caps = execFileSync('getcap', [path.join(dst, 'suid')], { encoding: 'utf8' });
        assert.match(caps, /cap_net_raw[=+]ep/);
        assert.equal(
          getXattrTest(path.join(dst, 'suid'), 'security.capability').toString('base64'),
          meta.xattrs?.['security.capability'],
        );
        assert.notEqual(meta.inode, copy.inode);
        assert.equal(meta.nlink, 1);
      },
    );
  });

  void it('sticky directory with a mode, owner and xattr', () => {
    roundTrip(
      'sticky',
      (p) => {
        fs.mkdirSync(p);
        fs.chmodSync(p, 0o1777);
        fs.lchownSync(p, 1234, 5678);
        setXattrTest(p, 'user.dir', 'x');
      },
      (meta) => {
        assert.equal(meta.type, 'dir');
        assert.equal(meta.mode, 0o1777);
      },
    );
  });

  void it('symlink: target, owner, times; no xattrs', () => {
    roundTrip(
      'link',
      (p) => {
        fs.writeFileSync(path.join(src, 'target'), 't');
        setXattrTest(path.join(src, 'target'), 'user.target', 'x');
        fs.symlinkSync('target', p);
        fs.lchownSync(p, 1234, 5678);
      },
      (meta, copy) => {
        assert.equal(meta.type, 'symlink');
        assert.equal(meta.linkTarget, 'target');
        assert.equal(meta.linkTargetRaw, undefined);
        assert.equal(meta.xattrs, undefined, "the target's xattrs are not the link's");
        assert.equal(copy.uid, 1234);
      },
    );
  });

  void it('symlink whose target is not UTF-8', () => {
    roundTrip(
      'rawlink',
      (p) => fs.symlinkSync(Buffer.from([0x66, 0xff, 0x6f]), p),
      (meta) => {
        assert.equal(meta.linkTargetRaw, Buffer.from([0x66, 0xff, 0x6f]).toString('base64'));
        assert.equal(meta.linkTarget, 'f\ufffdo');
        assert.deepEqual(fs.readlinkSync(path.join(dst, 'rawlink'), { encoding: 'buffer' }), Buffer.from([0x66, 0xff, 0x6f]));
      },
    );
  });

  void it('fifo', () => {
    roundTrip(
      'fifo',
      (p) => {
        execFileSync('mkfifo', ['--', p]);
        fs.chmodSync(p, 0o640);
        fs.lchownSync(p, 1234, 5678);
      },
      (meta) => {
        assert.equal(meta.type, 'fifo');
        assert.equal(meta.mode, 0o640);
      },
    );
  });

  void it('character device (like /dev/null)', () => {
    roundTrip(
      'null',
      (p) => {
        execFileSync('mknod', ['--', p, 'c', '1', '3']);
        fs.chmodSync(p, 0o666);
      },
      (meta) => {
        assert.equal(meta.type, 'chardev');
        assert.equal(meta.devMajor, 1);
        assert.equal(meta.devMinor, 3);
        assert.equal(meta.rdev, fs.statSync('/dev/null').rdev);
      },
    );
  });

  void it('block device with a large minor', () => {
    roundTrip(
      'loop',
      (p) => {
        execFileSync('mknod', ['--', p, 'b', '7', '300']);
        fs.chmodSync(p, 0o660);
        fs.lchownSync(p, 0, 6);
      },
      (meta) => {
        assert.equal(meta.type, 'blockdev');
        assert.equal(meta.devMajor, 7);
        assert.equal(meta.devMinor, 300);
      },
    );
  });

  void it('owner names come from the cache', () => {
    const p = path.join(src, 'named');
    fs.writeFileSync(p, '');
    fs.lchownSync(p, 0, 0);
    const m = readMeta(p, fs.lstatSync(p, { bigint: true }), new NameCache());
    assert.equal(m.user, 'root');
    assert.equal(m.group, 'root');
    fs.lchownSync(p, 54321, 54321);
    const unnamed = readMeta(p, undefined, names);
    assert.equal(unnamed.user, undefined);
    assert.equal(unnamed.group, undefined);
  });
});

void describe('times', () => {
  void it('restores the exact nanosecond, also before 1970 and at the edges of a second', () => {
    const p = path.join(tmp, 'times');
    fs.writeFileSync(p, '');
    const base = fakeMeta({});
    for (const t of [
      '2024-01-02T03:04:05.000000000Z',
      '2024-01-02T03:04:05.000000999Z',
      '2024-01-02T03:04:05.999999999Z',
      '2038-01-19T03:14:08.000001000Z',
      '2200-12-31T23:59:59.999999000Z',
      '1969-12-31T23:59:59.999999999Z',
      '1960-05-06T07:08:09.000000500Z',
      // Not 20:45:52 itself: ext4 stores its lowest second without the fraction (touch(1) too).
      '1901-12-13T20:45:53.500000500Z',
    ]) {
      applyMeta(p, { ...base, mtime: t, atime: t }, { owner: false });
      const got = readMeta(p);
      assert.equal(got.mtime, t);
      assert.equal(got.atime, t);
    }
  });

  void it('restores the exact nanosecond for random times from 1902 to 2242', () => {
    const p = path.join(tmp, 'random-times');
    fs.writeFileSync(p, '');
    const base = fakeMeta({});
    for (let i = 0; i < 300; i++) {
      const sec = BigInt(Math.floor(-(2 ** 31) + 1 + Math.random() * (2 ** 33 + 2 ** 31 - 1)));
      const t = formatTime(sec * 1_000_000_000n + BigInt(Math.floor(Math.random() * 1e9)));
      applyMeta(p, { ...base, mtime: t }, { owner: false });
      assert.equal(readMeta(p).mtime, t);
    }
  });

  void it('metaEqual honours the resolution and reports each difference', () => {
    const a = fakeMeta({ uid: 1, gid: 2, size: 3, mtime: '2024-01-02T03:04:05.123456789Z', xattrs: { 'user.a': 'AA==' } });
    assert.deepEqual(metaEqual(a, { ...a, inode: 9, ctime: '2025-01-01T00:00:00.000000000Z' }), []);
    assert.equal(metaEqual(a, { ...a, mtime: '2024-01-02T03:04:05.123456788Z' }).length, 1, 'exact by default');
    assert.deepEqual(metaEqual(a, { ...a, mtime: '2024-01-02T03:04:05.123456000Z' }, { timeResolutionNs: 1000 }), []);
    assert.equal(metaEqual(a, { ...a, mtime: '2024-01-02T03:04:05.123455999Z' }, { timeResolutionNs: 1000 }).length, 1);
    assert.deepEqual(metaEqual(a, { ...a, uid: 5 }, { owner: false }), []);
    const diffs = metaEqual(a, { ...a, mode: 0o4644, gid: 3, size: 4, xattrs: { 'user.b': 'AA==' } });
    assert.deepEqual(diffs.map((d) => d.split(':')[0]), ['mode', 'gid', 'size', 'xattr user.a', 'xattr user.b']);
  });
});

void describe('unsupported extended attributes', () => {
  void it('reading on procfs (getxattr ENOTSUP) and tmpfs does not throw', () => {
    const proc = readMeta('/proc/self/status');
    assert.equal(proc.xattrs, undefined);
    const shm = fs.mkdtempSync('/dev/shm/lifeboat-fsmeta-');
    try {
      const f = path.join(shm, 'f');
      fs.writeFileSync(f, 'x');
      assert.equal(readMeta(f).type, 'file');
    } finally {
      fs.rmSync(shm, { recursive: true, force: true });
    }
  });

  void it('an xattr the target refuses is a warning, not an error; the rest is still applied', () => {
    const p = path.join(tmp, 'fifo-x');
    const meta = fakeMeta({
      type: 'fifo',
      mode: 0o604,
      uid: 1234,
      gid: 5678,
      mtime: '2022-02-02T02:02:02.020202020Z',
      // Linux allows user.* only on regular files and directories.
      xattrs: { 'user.nope': 'AA==' },
    });
    assert.equal(createSpecial(p, meta), true);
    const warnings = applyMeta(p, meta, { owner: true });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /user\.nope.*EPERM/);
    const copy = readMeta(p);
    assert.deepEqual(metaEqual({ ...meta, xattrs: undefined }, copy), []);
  });

  void it('a real failure throws an IO error naming the path', () => {
    const p = path.join(tmp, 'does-not-exist');
    assert.throws(() => readMeta(p), (err: { code?: string; message?: string; context?: { errno?: string } }) => {
      return err.code === 'IO' && (err.message ?? '').includes(p) && err.context?.errno === 'ENOENT';
    });
    assert.throws(() => applyMeta(p, fakeMeta({}), { owner: true }), { code: 'IO' });
  });

  void it('sockets are skipped', () => {
    assert.equal(createSpecial(path.join(tmp, 'sock'), fakeMeta({ type: 'socket' })), false);
    assert.equal(fs.existsSync(path.join(tmp, 'sock')), false);
  });
});

function setXattrTest(path: string, name: string, value: string | Buffer): void {
  nativeFs().setXattr(path, name, Buffer.from(value));
}

function getXattrTest(path: string, name: string): Buffer {
  const v = nativeFs().getXattr(path, name);
  if (v === undefined) throw new Error(`${path}: no ${name}`);
  return v;
}
