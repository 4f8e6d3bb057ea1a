/**
 * "A bad update" through the CLI: a tree rewritten and partly deleted is rolled back in place to a
 * known-good snapshot with `restore --include PATH --target / --delete --verify`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { jsonLines, lifeboat, show } from './run-cli.ts';

test('restore --delete rolls a tree back to a snapshot in place', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-cli-rollback-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const repo = join(dir, 'repo');
  const app = join(dir, 'srv', 'app');
  mkdirSync(join(app, 'conf'), { recursive: true });
  writeFileSync(join(app, 'conf', 'settings.ini'), 'mode=good\n');
  writeFileSync(join(app, 'server.js'), 'console.log("v1")\n');
  writeFileSync(join(app, 'data.db'), 'rows');
  const cli = (...args: string[]) => lifeboat(['-r', repo, ...args]);
  assert.equal((await cli('init')).code, 0);
  const b = await cli('--json', 'backup', app);
  assert.equal(b.code, 0, show(b));
  const good = jsonLines(b.stdout).find((l) => l['message_type'] === 'summary')!['snapshot_id'] as string;
  // The bad update.
  writeFileSync(join(app, 'server.js'), 'console.log("v2, broken")\n');
  rmSync(join(app, 'data.db'));
  writeFileSync(join(app, 'conf', 'new-plugin.ini'), 'x');
  const r = await cli('--json', 'restore', good.slice(0, 8), '--target', '/', '--include', app, '--delete', '--verify');
  assert.equal(r.code, 0, show(r));
  const sum = jsonLines(r.stdout).find((l) => l['message_type'] === 'summary')!;
  assert.equal(sum['files_deleted'], 1);
  assert.equal(readFileSync(join(app, 'server.js'), 'utf8'), 'console.log("v1")\n');
  assert.equal(readFileSync(join(app, 'data.db'), 'utf8'), 'rows');
  assert.deepEqual(readdirSync(join(app, 'conf')), ['settings.ini']);
});

test('a path below a symlinked folder backs up, checks and restores; --delete into a busy target removes only inside it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-cli-symlinked-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const repo = join(dir, 'repo');
  // As Debian's /bin -> usr/bin: the backed-up path goes through a link.
  mkdirSync(join(dir, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(dir, 'usr', 'bin', 'tool'), '#!/bin/sh\necho v1\n');
  writeFileSync(join(dir, 'usr', 'bin', 'other'), 'other');
  symlinkSync('usr/bin', join(dir, 'bin'));
  const cli = (...args: string[]) => lifeboat(['-r', repo, ...args]);
  assert.equal((await cli('init')).code, 0);
  const b = await cli('backup', join(dir, 'bin'), join(dir, 'bin', 'tool'));
  assert.equal(b.code, 2, show(b)); // the link itself and a path below it: which one is meant?
  assert.equal((await cli('backup', join(dir, 'bin', 'tool'))).code, 0);
  const c = await cli('check', '--read-data');
  assert.equal(c.code, 0, show(c));
  const d = await cli('dump', 'latest', join(dir, 'bin', 'tool'));
  assert.equal(d.code, 0, show(d));
  assert.equal(d.stdout, '#!/bin/sh\necho v1\n');
  // A target that is somebody's system: everything in it but the restored path must survive.
  const target = join(dir, 'target');
  const restoredBin = join(target, dir, 'bin');
  mkdirSync(join(target, 'etc'), { recursive: true });
  writeFileSync(join(target, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  mkdirSync(join(target, dir, 'home'), { recursive: true });
  writeFileSync(join(target, dir, 'home', 'notes'), 'mine');
  mkdirSync(restoredBin, { recursive: true });
  writeFileSync(join(restoredBin, 'unrelated'), 'a sibling of the backed-up file, never in any snapshot');
  const r = await cli('--json', 'restore', 'latest', '--target', target, '--delete', '--verify');
  assert.equal(r.code, 0, show(r));
  const sum = jsonLines(r.stdout).find((l) => l['message_type'] === 'summary')!;
  assert.equal(sum['files_deleted'], 0);
  assert.equal(readFileSync(join(restoredBin, 'tool'), 'utf8'), '#!/bin/sh\necho v1\n');
  assert.equal(readFileSync(join(target, 'etc', 'hosts'), 'utf8'), '127.0.0.1 localhost\n');
  assert.equal(readFileSync(join(target, dir, 'home', 'notes'), 'utf8'), 'mine');
  assert.ok(readdirSync(restoredBin).includes('unrelated'));
  // An include that names nothing in the snapshot fails, and says so.
  const none = await cli('restore', 'latest', '--target', target, '--include', join(dir, 'bin', 'tool', 'child'));
  assert.equal(none.code, 1, show(none));
  assert.match(none.stderr, /nothing in snapshot \w+ matches/);
});
