/**
 * Damage through the real CLI: the exit status of each case is the documented one (13 for what cannot be
 * read back, 3 for a restore that lost some files, 130 for an interruption, even while the program loads),
 * and the repair commands put the repository back so every command exits 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { seededBytes } from '../helpers/tree.ts';
import { tempDir } from '../helpers/repo.ts';
import { jsonLines, lifeboat, show } from './run-cli.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('damage through the CLI: exit codes, then repair index, backup, repair snapshots', async (t) => {
  const dir = await tempDir(t, 'lb-cli-damage-');
  const repo = join(dir, 'repo');
  const src = join(dir, 'src');
  mkdirSync(src);
  for (let i = 0; i < 4; i++) writeFileSync(join(src, `f${i}`), seededBytes(`f${i}`, 200_000));
  const cli = (...args: string[]) => lifeboat(['-r', repo, ...args]);
  assert.equal((await cli('init')).code, 0);
  const first = jsonLines((await cli('--json', 'backup', src)).stdout).at(-1)!['snapshot_id'] as string;
  // A file added later, in packs of its own.
  writeFileSync(join(src, 'late'), seededBytes('late', 300_000));
  const second = jsonLines((await cli('--json', 'backup', src)).stdout).at(-1)!['snapshot_id'] as string;
  const packs = (): string[] => readdirSync(join(repo, 'data')).flatMap((d) => readdirSync(join(repo, 'data', d)).map((f) => join(repo, 'data', d, f)));

  // A damaged snapshot file: named, it is exit 13 (not "no such snapshot").
  const snapFile = join(repo, 'snapshots', first);
  const saved = readFileSync(snapFile);
  writeFileSync(snapFile, Buffer.concat([saved.subarray(0, 10), Buffer.from('x'), saved.subarray(11)]));
  const r1 = await cli('restore', first.slice(0, 8), '--target', join(dir, 't1'));
  assert.equal(r1.code, 13, show(r1));
  assert.match(r1.stderr, /is damaged/);
  const c1 = await cli('check');
  assert.equal(c1.code, 13, show(c1));
  assert.match(c1.stdout, /to repair: .*forget/);
  writeFileSync(snapFile, saved);

  // The pack holding the second backup's trees goes missing: reading them is exit 13.
  const newest = packs().sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const treePack = newest.find((p) => statSync(p).size < 20_000)!;
  const kept = readFileSync(treePack);
  rmSync(treePack);
  const r2 = await cli('restore', second.slice(0, 8), '--target', join(dir, 't2'));
  assert.equal(r2.code, 13, show(r2));
  assert.match(r2.stderr, /missing/);
  const ls = await cli('ls', second.slice(0, 8));
  assert.equal(ls.code, 13, show(ls));
  writeFileSync(treePack, kept);

  // The data of `late` is lost, at the source too: check says what and how to repair, then repair works.
  const lateData = newest.find((p) => statSync(p).size > 250_000)!;
  rmSync(lateData);
  rmSync(join(src, 'late'));
  const r3 = await cli('restore', second.slice(0, 8), '--target', join(dir, 't3'));
  assert.equal(r3.code, 3, show(r3));
  const c3 = await cli('check');
  assert.equal(c3.code, 13, show(c3));
  assert.match(c3.stdout, /affects files:\n\s+.*\/late/);
  assert.match(c3.stdout, /to repair: run `lifeboat repair index`/);
  const p3 = await cli('prune');
  assert.equal(p3.code, 13, show(p3));
  assert.equal((await cli('repair', 'index')).code, 0);
  assert.equal((await cli('backup', src)).code, 0);
  const rs = await cli('--json', 'repair', 'snapshots', '--forget');
  assert.equal(rs.code, 0, show(rs));
  const out = JSON.parse(rs.stdout) as { repaired: Array<{ original: string; lost: Array<{ path: string }> }> };
  assert.deepEqual(out.repaired.map((x) => x.original), [second]);
  assert.deepEqual(out.repaired[0]!.lost.map((l) => l.path), [join(src, 'late')]);
  const c4 = await cli('check', '--read-data');
  assert.equal(c4.code, 0, show(c4));
  assert.equal((await cli('prune')).code, 0);
  const all = await cli('--json', 'snapshots');
  const tags = (JSON.parse(all.stdout) as Array<{ tags?: string[] }>).map((s) => s.tags ?? []);
  assert.equal(tags.filter((x) => x.includes('repaired')).length, 1);
  // forget by id, also of a snapshot file that cannot be read.
  writeFileSync(snapFile, 'garbage');
  const f = await cli('forget', first.slice(0, 8));
  assert.equal(f.code, 0, show(f));
  assert.ok(!readdirSync(join(repo, 'snapshots')).includes(first));
});

test('SIGTERM is exit 130 at once, also while a password command hangs', async (t) => {
  const dir = await tempDir(t, 'lb-cli-sigterm-');
  assert.equal((await lifeboat(['-r', join(dir, 'repo'), 'init'])).code, 0);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('LIFEBOAT_')) env[k] = v;
  env['LIFEBOAT_PASSWORD_COMMAND'] = 'sleep 60; echo never';
  const child = spawn(process.execPath, [join(root, 'bin/lifeboat.js'), '-r', join(dir, 'repo'), 'snapshots'], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Once the password command runs, the program has loaded and waits for it.
  const until = Date.now() + 60_000;
  while (Date.now() < until && readFileSync(`/proc/${child.pid!}/task/${child.pid!}/children`, 'utf8').trim() === '') await new Promise((r) => setTimeout(r, 5));
  const sent = Date.now();
  child.kill('SIGTERM');
  assert.equal(await exited, 130, stderr);
  assert.ok(Date.now() - sent < 20_000, 'it stops at once, not when the password command ends');
  assert.match(stderr, /interrupted/);
});
