/** `lifeboat key`: add, list, remove, passwd, each through the real CLI. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/repo.ts';
import { lifeboat, PASSWORD, show } from './run-cli.ts';

interface KeyJson {
  id: string;
  current: boolean;
  username: string;
  hostname: string;
  created: string;
}

void test('key add, list, remove, passwd', async (t) => {
  const dir = await tempDir(t, 'lb-cli-');
  const repo = join(dir, 'repo');
  const withPassword = (password: string, ...args: string[]) => lifeboat(['-r', repo, ...args], { env: { LIFEBOAT_PASSWORD: password } });
  const keyFiles = async (): Promise<string[]> => (await readdir(join(repo, 'keys'))).sort();

  const init = await withPassword(PASSWORD, 'init');
  assert.equal(init.code, 0, show(init));
  const [firstKey] = await keyFiles();

  await t.test('add: from --new-password-file (one trailing newline dropped); list marks the key in use', async () => {
    const file = join(dir, 'second');
    await writeFile(file, 'second password\n');
    const add = await withPassword(PASSWORD, 'key', 'add', '--new-password-file', file);
    assert.equal(add.code, 0, show(add));
    assert.match(add.stdout, /^saved new key [0-9a-f]{8}$/m);
    assert.doesNotMatch(add.stdout + add.stderr, /second password/);
    const list = await withPassword('second password', '--json', 'key', 'list');
    assert.equal(list.code, 0, show(list));
    const keys = JSON.parse(list.stdout) as KeyJson[];
    assert.equal(keys.length, 2);
    const current = keys.filter((k) => k.current);
    assert.equal(current.length, 1);
    assert.notEqual(current[0]!.id, firstKey);
    assert.ok(keys.some((k) => k.id === firstKey && !k.current));

    const human = await withPassword(PASSWORD, 'key', 'list');
    assert.equal(human.code, 0, show(human));
    assert.match(human.stdout, new RegExp(`^\\*${firstKey!.slice(0, 8)} `, 'm'));
  });

  await t.test('remove: by prefix; the key in use is refused with exit 2', async () => {
    const self = await withPassword(PASSWORD, 'key', 'remove', firstKey!.slice(0, 10));
    assert.equal(self.code, 2, show(self));
    assert.match(self.stderr, /refusing to remove the key in use/);
    const r = await withPassword('second password', 'key', 'remove', firstKey!.slice(0, 10));
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^removed key ${firstKey!.slice(0, 8)}$`, 'm'));
    assert.equal((await keyFiles()).length, 1);
    const old = await withPassword(PASSWORD, 'key', 'list');
    assert.equal(old.code, 12, show(old));
  });

  await t.test('passwd: LIFEBOAT_NEW_PASSWORD replaces the key in use', async () => {
    const before = await keyFiles();
    const r = await lifeboat(['-r', repo, 'key', 'passwd'], { env: { LIFEBOAT_PASSWORD: 'second password', LIFEBOAT_NEW_PASSWORD: 'third password' } });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^password changed/m);
    const after = await keyFiles();
    assert.equal(after.length, 1);
    assert.notDeepEqual(after, before);
    const [oldPw, newPw] = await Promise.all([withPassword('second password', 'snapshots'), withPassword('third password', '--json', 'snapshots')]);
    assert.equal(oldPw.code, 12, show(oldPw));
    assert.equal(newPw.code, 0, show(newPw));
    assert.deepEqual(JSON.parse(newPw.stdout), []);
  });

  await t.test('add without a new password and without a terminal: NO_PASSWORD, exit 1', async () => {
    const r = await withPassword('third password', 'key', 'add');
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /no new password given/);
    assert.match(r.stderr, /^hint: .*--new-password-file/m);
  });
});
