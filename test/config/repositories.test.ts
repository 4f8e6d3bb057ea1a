/** `repositories:` — folders by name, each with its password from a file, an environment variable or inline. */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/repo.ts';
import { assertError, read, readError, yaml } from './helpers.ts';

const SECRET = 'tr0ub4dor&3-not-in-any-message';

test('repositories: password from a file (relative to the configuration, one line break dropped), from the environment, inline', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'lifeboat.yaml');
  writeFileSync(join(dir, 'repo.pass'), `${SECRET} \n`, { mode: 0o600 });
  const { cfg, warnings } = read(
    yaml`
      repositories:
        main: { path: /srv/lifeboat/repo, password_file: repo.pass }
        offsite: { path: ../offsite, password_env: OFFSITE_PASSWORD }
        lab: { path: /srv/lab, password: "${SECRET}" }
    `,
    { file, env: { OFFSITE_PASSWORD: `${SECRET}2\n` } },
  );
  assert.deepEqual(cfg.repositories, [
    // Only the final line break goes: a trailing space may be part of a password (as --password-file).
    { name: 'main', path: '/srv/lifeboat/repo', password: { from: `file ${join(dir, 'repo.pass')}`, value: `${SECRET} ` } },
    { name: 'offsite', path: join(dir, '..', 'offsite'), password: { from: 'env OFFSITE_PASSWORD', value: `${SECRET}2` } },
    { name: 'lab', path: '/srv/lab', password: { from: 'inline', value: SECRET } },
  ]);
  // Inline is allowed, and warned about, at its line.
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0]!.field, 'repositories.lab.password');
  assert.equal(warnings[0]!.line, 4);
  assert.match(warnings[0]!.message, /written in the configuration.*prefer password_file or password_env/);
  assert.ok(!warnings[0]!.message.includes(SECRET));
});

test('repositories: a password file every user can read is warned about (not refused)', async (t) => {
  const dir = await tempDir(t);
  const pass = join(dir, 'repo.pass');
  writeFileSync(pass, SECRET);
  chmodSync(pass, 0o644);
  const { cfg, warnings } = read(`repositories:\n  main: { path: /r, password_file: ${pass} }\n`);
  assert.equal(cfg.repositories[0]!.password.value, SECRET);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!.message, new RegExp(`^/etc/lifeboat/lifeboat\\.yaml:2:\\d+: repositories\\.main\\.password_file: ${pass} can be read by every user \\(mode 0644\\): chmod o-r`));
});

test('repositories: secrets that cannot be had are errors naming the file or variable, never a value', async (t) => {
  const dir = await tempDir(t);
  const env = { EMPTY: '', OTHER: SECRET };
  assertError('repositories:\n  main: { path: /r, password_env: NOPE }\n', { line: 2, col: 35, field: 'repositories.main.password_env' }, /^environment variable NOPE is not set: expected it to hold the repository password$/, { env });
  assertError('repositories:\n  main: { path: /r, password_env: EMPTY }\n', { line: 2, col: 35, field: 'repositories.main.password_env' }, /environment variable EMPTY is empty/, { env });
  assertError(`repositories:\n  main: { path: /r, password_file: ${dir}/missing }\n`, { line: 2, col: 36, field: 'repositories.main.password_file' }, /cannot read .*missing: ENOENT/);
  writeFileSync(join(dir, 'empty'), '\n');
  assertError(`repositories:\n  main: { path: /r, password_file: ${dir}/empty }\n`, { line: 2, col: 36, field: 'repositories.main.password_file' }, /empty: expected the repository password/);
  assertError(`repositories:\n  main: { path: /r, password_file: ${dir} }\n`, { line: 2, col: 36, field: 'repositories.main.password_file' }, /is not a file/);
  // Two sources: which one wins would be a guess.
  const two = assertError('repositories:\n  main: { path: /r, password_env: OTHER, password: "x" }\n', { line: 2, col: 42, field: 'repositories.main.password' }, /password_env and password are both given: expected one of password_file, password_env or password/, { env });
  assert.ok(!two.message.includes(SECRET));
  assertError('repositories:\n  main: { path: /r }\n', { line: 2, col: 3, field: 'repositories.main.password' }, /^missing: expected the repository password as password_file, password_env or password$/);
  // A password YAML reads as a number is refused without being quoted back.
  const num = assertError('repositories:\n  main: { path: /r, password: 12345678 }\n', { line: 2, col: 31, field: 'repositories.main.password' }, /^expected the repository password as a string \(quote it\)$/);
  assert.ok(!num.message.includes('12345678'));
});

test('repositories: names, paths and unknown fields', () => {
  assertError('repositories:\n  "main repo": { path: /r, password: x }\n', { line: 2, col: 3, field: 'repositories.main repo' }, /"main repo" is not a valid repository name: expected letters, digits, '_' and '-'/);
  assertError('repositories:\n  main: { path: /r, pasword_file: /p }\n', { line: 2, col: 21, field: 'repositories.main.pasword_file' }, /^unknown field; did you mean "password_file"\? \(known: path, password_file, password_env, password\)$/);
  assertError('repositories:\n  main: { password: x }\n', { line: 2, col: 3, field: 'repositories.main.path' }, /^missing: expected the repository folder$/);
  assertError('repositories:\n  main: { path: 7, password: x }\n', { line: 2, col: 17, field: 'repositories.main.path' }, /^expected the repository folder$/);
  assertError('repositories: [main]\n', { line: 1, col: 15, field: 'repositories' }, /expected a mapping of repository names/);
  assert.deepEqual(read('repositories:\n').cfg.repositories, []);
  const e = readError('repositories:\n  main: { path: "/r\\0x", password: x }\n');
  assert.match(e.message, /NUL/);
});
