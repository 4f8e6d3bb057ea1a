/** Errors of lifeboat.yaml in general: malformed YAML, unknown fields, unreadable files, secrets kept out. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { isLifeboatError } from '../../src/core/index.ts';
import { tempDir } from '../helpers/repo.ts';
import { assertError, readError } from './helpers.ts';

test('errors: malformed YAML gives the line and column', () => {
  const at = (text: string): string => readError(text).message;
  assert.match(at('groups:\n  web:\n    members: [\n'), /^\/etc\/lifeboat\/lifeboat\.yaml:4:1: not valid YAML: /);
  assert.match(at('site: a\nsite: b\n'), /^\/etc\/lifeboat\/lifeboat\.yaml:2:1: not valid YAML: Map keys must be unique/);
  assert.match(at('a:\n\t- b\n'), /^\/etc\/lifeboat\/lifeboat\.yaml:2:1: not valid YAML: /);
  const e = readError('x: "unclosed\n');
  assert.equal(e.code, 'CONFIG');
  assert.deepEqual(Object.keys(e.context), ['file', 'line', 'column']);
});

test('errors: unknown top-level fields suggest the nearest known one', () => {
  assertError('grups: {}\n', { line: 1, col: 1, field: 'grups' }, /^unknown field; did you mean "groups"\? \(known: site, repositories, groups, api, notify, daemon, dns, sites, journals\)$/);
  assertError('repos: {}\n', { line: 1, col: 1, field: 'repos' }, /did you mean "repositories"\?/);
  assertError('webhooks: []\n', { line: 1, col: 1, field: 'webhooks' }, /^unknown field \(known: site/);
  assert.match(readError('- site\n').message, /^\/etc\/lifeboat\/lifeboat\.yaml:1:1: \(top level\): expected a mapping/);
});

test('errors: the file itself', async (t) => {
  const dir = await tempDir(t);
  assert.throws(() => loadConfig(join(dir, 'none.yaml')), (e: unknown) => isLifeboatError(e) && e.code === 'CONFIG' && /cannot read the configuration .*none\.yaml: ENOENT/.test(e.message) && /--config FILE or LIFEBOAT_CONFIG/.test(e.hint ?? ''));
  const f = join(dir, 'lifeboat.yaml');
  writeFileSync(f, 'site: primary\nrepositories: { main: { path: r, password_env: PW } }\ngroups:\n  g:\n    members: []\n');
  assert.throws(() => loadConfig(f, { env: { PW: 'x' } }), (e: unknown) => isLifeboatError(e) && e.message.startsWith(`${f}:5:14: groups.g.members: expected at least one entry`));
});

test('errors: secret values appear in no error, whatever goes wrong around them', async (t) => {
  const dir = await tempDir(t);
  const SECRET = 'Zebra-Quartz-91-secret';
  writeFileSync(join(dir, 'pass'), SECRET, { mode: 0o600 });
  const env = { PW: SECRET, TOKEN: SECRET };
  const texts = [
    `repositories:\n  main: { path: /r, password: "${SECRET}", password_env: PW }\n`,
    `repositories:\n  main: { path: /r, password: ["${SECRET}"] }\n`,
    `repositories:\n  main: { path: [/r], password_file: pass }\n`,
    `api:\n  tokens: [{ name: a, role: root, token_env: TOKEN }]\n`,
    `api:\n  tokens: [{ name: a, role: admin, hash: "${SECRET}" }]\n`,
    `api:\n  tokens: [{ name: a, role: admin, token_env: TOKEN }, { name: b, role: admin, token_env: PW }]\n`,
    `notify:\n  webhooks: [{ url: "https://${SECRET}@h.example", secret: "${SECRET}", timeout: 0s }]\n`,
    `notify:\n  webhooks: [{ url: "gopher://h/${SECRET}" }]\n`,
    `dns:\n  keys: { k: { secret: "${SECRET}" } }\n`,
    `groups:\n  g:\n    members: [{ postgres: { conn: "password=${SECRET}", mode: physical, jobs: 1 } }]\n`,
  ];
  for (const text of texts) {
    const e = readError(text, { file: join(dir, 'lifeboat.yaml'), env });
    assert.equal(e.code, 'CONFIG', e.message);
    assert.ok(!e.message.includes(SECRET) && !JSON.stringify(e.context).includes(SECRET) && !(e.hint ?? '').includes(SECRET), `${text}\n→ ${e.message}`);
  }
});
