/**
 * Staging folders and their sweep, against real processes: a folder whose owner runs is kept, one whose
 * owner died (or whose pid now belongs to another process) is removed; symlinks, files, names that do not
 * parse, other pid namespaces and other users' folders are never touched.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { makeStaged, sweepStaged } from '../../../src/sources/spool/index.ts';
import { tempDir } from '../../helpers/repo.ts';

const PREFIX = 'lifeboat-test-';

function startOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

const ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))![1]!;

/** A process that runs until killed. */
async function sleeper(t: { after: (fn: () => void) => void }): Promise<{ pid: number; kill: () => Promise<void> }> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await new Promise<void>((r, j) => (child.once('spawn', r), child.once('error', j)));
  t.after(() => void child.kill('SIGKILL'));
  return {
    pid: child.pid!,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

test('a staging folder is named for its process; the sweep keeps those of live processes and removes those of dead ones', async (t) => {
  const dir = await tempDir(t);
  const mine = makeStaged(dir, PREFIX);
  assert.match(basename(mine), new RegExp(`^${PREFIX}${process.pid}\\.${startOf(process.pid)}\\.${ns}-[A-Za-z0-9]{6}$`));
  writeFileSync(join(mine, 'copy'), 'x');

  const p = await sleeper(t);
  const live = join(dir, `${PREFIX}${p.pid}.${startOf(p.pid)}.${ns}-aaaaaa`);
  mkdirSync(live);
  writeFileSync(join(live, 'copy'), 'x');
  // The same pid with another start time: the pid was reused, the owner is gone.
  const reused = join(dir, `${PREFIX}${p.pid}.${Number(startOf(p.pid)) - 1}.${ns}-bbbbbb`);
  mkdirSync(join(reused, 'sub'), { recursive: true });
  writeFileSync(join(reused, 'sub', 'copy'), 'x');

  assert.deepEqual(await sweepStaged(dir, PREFIX), [basename(reused)]);
  assert.ok(existsSync(join(mine, 'copy')), 'our own folder is kept');
  assert.ok(existsSync(join(live, 'copy')), 'a live process keeps its folder');

  await p.kill();
  assert.deepEqual(await sweepStaged(dir, PREFIX), [basename(live)]);
  assert.ok(existsSync(join(mine, 'copy')));
  assert.deepEqual(await sweepStaged(dir, PREFIX), [], 'nothing more to sweep');
});

test('the sweep never follows a symlink, and leaves files, foreign names, other pid namespaces and other users alone', async (t) => {
  const dir = await tempDir(t);
  const p = await sleeper(t);
  const start = startOf(p.pid);
  await p.kill();
  const dead = (tag: string, space = ns): string => join(dir, `${PREFIX}${p.pid}.${start}.${space}-${tag}`);

  // A link named like a dead owner's folder, to a folder that must survive.
  const precious = join(dir, 'precious');
  mkdirSync(precious);
  writeFileSync(join(precious, 'data'), 'keep');
  symlinkSync(precious, dead('link00'));
  // Inside a dead owner's folder, a link out: the folder goes, what the link points at stays.
  mkdirSync(dead('withln'));
  symlinkSync(precious, join(dead('withln'), 'out'));
  writeFileSync(dead('file00'), 'not a folder');
  mkdirSync(dead('otherN', String(Number(ns) + 1)));
  mkdirSync(join(dir, `${PREFIX}old-style`));
  mkdirSync(join(dir, `${PREFIX}${p.pid}-xyzabc`));
  const others = process.getuid?.() === 0;
  if (others) {
    mkdirSync(dead('nobody'));
    chownSync(dead('nobody'), 65534, 65534);
  }

  assert.deepEqual(await sweepStaged(dir, PREFIX), [basename(dead('withln'))]);
  assert.equal(readFileSync(join(precious, 'data'), 'utf8'), 'keep');
  assert.ok(existsSync(dead('link00')) && existsSync(dead('file00')) && existsSync(dead('otherN', String(Number(ns) + 1))));
  assert.ok(existsSync(join(dir, `${PREFIX}old-style`)) && existsSync(join(dir, `${PREFIX}${p.pid}-xyzabc`)));
  if (others) assert.ok(existsSync(dead('nobody')), "another user's folder is kept");
  assert.deepEqual(await sweepStaged(join(dir, 'missing'), PREFIX), [], 'a missing parent is nothing to sweep');
});
