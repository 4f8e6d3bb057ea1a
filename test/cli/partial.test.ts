/**
 * Partial results: a restore where some files fail exits 3 and lists them; reading damaged data exits 13;
 * a backup with unreadable files saves the rest and exits 3.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/repo.ts';
import { jsonLines, lifeboat, show } from './run-cli.ts';

/** The largest file under the repository's data/ folder: the pack holding the big file's chunks. */
async function largestPack(repo: string): Promise<string> {
  let best = { path: '', size: -1 };
  for (const e of await readdir(join(repo, 'data'), { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    const { size } = await stat(p);
    if (size > best.size) best = { path: p, size };
  }
  return best.path;
}

void test('damaged data: check --read-data exits 13 naming snapshot and file; restore does the rest and exits 3; dump exits 13', async (t) => {
  const dir = await tempDir(t, 'lb-cli-');
  const repo = join(dir, 'repo');
  const data = join(dir, 'data');
  await mkdir(data);
  await writeFile(join(data, 'small.txt'), 'still fine\n');
  await writeFile(join(data, 'big.bin'), randomBytes(2 * 1024 * 1024));
  const cli = (...args: string[]) => lifeboat(['-r', repo, ...args]);
  for (const args of [['init'], ['backup', data]]) {
    const r = await cli(...args);
    assert.equal(r.code, 0, show(r));
  }
  const pack = await largestPack(repo);
  const fh = await open(pack, 'r+');
  try {
    const { size } = await fh.stat();
    await fh.write(Buffer.from('garbage!'), 0, 8, Math.floor(size / 2));
  } finally {
    await fh.close();
  }

  const target = join(dir, 'restored');
  const [restore, dump, check, checkJson, structure] = await Promise.all([
    cli('--json', 'restore', 'latest', '--target', target),
    cli('dump', 'latest', join(data, 'big.bin')),
    cli('check', '--read-data'),
    cli('--json', 'check', '--read-data-subset', '100%'),
    cli('check'),
  ]);
  const snaps = (await readdir(join(repo, 'snapshots'))).map((n) => n.slice(0, 8));

  assert.equal(check.code, 13, show(check));
  assert.match(check.stdout, new RegExp(`affects snapshots: ${snaps[0]}`));
  assert.match(check.stdout, new RegExp(`^ +${join(data, 'big.bin')}$`, 'm'));
  assert.doesNotMatch(check.stdout, /small\.txt/);
  assert.match(check.stderr, /1 problem found/);
  assert.equal(checkJson.code, 13, show(checkJson));
  const result = JSON.parse(checkJson.stdout) as { ok: boolean; problems: Array<{ kind: string; snapshots?: string[]; files?: string[] }> };
  assert.equal(result.ok, false);
  assert.ok(result.problems.some((p) => p.snapshots?.includes(snaps[0]!) && p.files?.includes(join(data, 'big.bin'))), checkJson.stdout);
  // Without reading data, the damage inside a pack of the right size is not visible.
  assert.equal(structure.code, 0, show(structure));
  assert.match(structure.stdout, /no problems found/);

  assert.equal(restore.code, 3, show(restore));
  const lines = jsonLines(restore.stdout);
  const errors = lines.filter((l) => l.message_type === 'error');
  assert.ok(errors.some((e) => e.item === join(data, 'big.bin')), restore.stdout);
  const summary = lines.at(-1)!;
  assert.equal(summary.message_type, 'summary');
  assert.ok(Number(summary.errors) >= 1);
  assert.equal(await readFile(join(target, data, 'small.txt'), 'utf8'), 'still fine\n');

  assert.equal(dump.code, 13, show(dump));
  assert.match(dump.stderr, /^lifeboat: .*blob/m);
  assert.match(dump.stderr, /^hint: .*lifeboat check/m);
});

/** Root reads every file; as root, the CLI runs as `nobody` through setpriv (util-linux) instead. */
function unprivileged(): { asUser?: number } | undefined {
  if (process.getuid?.() !== 0) return {};
  return existsSync('/usr/bin/setpriv') || existsSync('/bin/setpriv') ? { asUser: 65534 } : undefined;
}

void test('backup with an unreadable file: snapshot saved, warning on stderr, exit 3', async (t) => {
  const as = unprivileged();
  if (!as) {
    t.skip('running as root without setpriv: every file is readable');
    return;
  }
  const dir = await tempDir(t, 'lb-cli-');
  const repo = join(dir, 'repo');
  const data = join(dir, 'data');
  await mkdir(data);
  await writeFile(join(data, 'ok.txt'), 'ok\n');
  await writeFile(join(data, 'secret.txt'), 'no\n');
  await chmod(join(data, 'secret.txt'), 0o000);
  if (as.asUser !== undefined) for (const p of [dir, data, join(data, 'ok.txt'), join(data, 'secret.txt')]) await chown(p, as.asUser, as.asUser);
  const init = await lifeboat(['-r', repo, 'init'], as);
  assert.equal(init.code, 0, show(init));
  const r = await lifeboat(['-r', repo, 'backup', data], as);
  assert.equal(r.code, 3, show(r));
  assert.match(r.stderr, new RegExp(`^lifeboat: warning: ${join(data, 'secret.txt')}: `, 'm'));
  assert.match(r.stdout, /^snapshot [0-9a-f]{8} saved$/m);
});
