/**
 * "A bad update" through the CLI: a tree rewritten and partly deleted is rolled back in place to a
 * known-good snapshot with `restore --include PATH --target / --delete --verify`.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
