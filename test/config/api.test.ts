/** `api:` — listen address, TLS (plain HTTP on loopback only), tokens kept as hashes, restore folders. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/repo.ts';
import { assertError, read, readError } from './helpers.ts';

const TOKEN = 'f00dfeed-token-never-printed-7f3a';
const sha = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

test('api: defaults: loopback, plain HTTP there, no tokens, no restores', () => {
  const none = { listen: { host: '127.0.0.1', port: 7420 }, tls: false, tokens: [], restorePaths: [] };
  assert.deepEqual(read('api: {}\n').cfg.api, none);
  assert.deepEqual(read('api:\n').cfg.api, none);
  assert.equal(read('').cfg.api, undefined);
});

test('api: TLS: self-signed by default off loopback; false only on loopback; certificate files', () => {
  assert.deepEqual(read('api: { listen: 0.0.0.0:8443 }\n').cfg.api?.tls, 'self-signed');
  assert.deepEqual(read('api: { listen: 0.0.0.0 }\n').cfg.api?.listen, { host: '0.0.0.0', port: 7420 });
  for (const listen of ['127.0.0.1:7420', '127.1.2.3:9000', 'localhost:7420', '"[::1]:7420"']) assert.equal(read(`api: { listen: ${listen}, tls: false }\n`).cfg.api?.tls, false, listen);
  assert.equal(read('api: { tls: self-signed }\n').cfg.api?.tls, 'self-signed');
  assert.deepEqual(read('api: { listen: 0.0.0.0:443, tls: { cert: tls/api.crt, key: /etc/ssl/api.key } }\n').cfg.api?.tls, { cert: '/etc/lifeboat/tls/api.crt', key: '/etc/ssl/api.key' });
  assertError('api:\n  listen: 0.0.0.0:7420\n  tls: false\n', { line: 3, col: 8, field: 'api.tls' }, /^plain HTTP on 0\.0\.0\.0 would send tokens across the network in clear: expected tls: self-signed or \{ cert, key \}, or listen on loopback/);
  assertError('api:\n  listen: "[::]:7420"\n  tls: false\n', { line: 3, col: 8, field: 'api.tls' }, /plain HTTP on ::/);
  assertError('api: { tls: true }\n', { line: 1, col: 13, field: 'api.tls' }, /^expected self-signed, false \(loopback only\) or \{ cert: FILE, key: FILE \}$/);
  assertError('api: { tls: { cert: /a } }\n', { line: 1, col: 8, field: 'api.tls.key' }, /^missing: expected the private key file/);
  assertError('api: { listen: "host:99999" }\n', { line: 1, col: 16, field: 'api.listen' }, /port 99999 is above 65535/);
});

test('api: tokens from a hash, a file or the environment are kept as sha256 only', async (t) => {
  const dir = await tempDir(t);
  writeFileSync(join(dir, 'ops.token'), `  ${TOKEN}-ops\n`, { mode: 0o600 });
  const { cfg, warnings } = read(
    [
      'api:',
      '  tokens:',
      `    - { name: grafana, role: viewer, hash: "${sha('g-token').toUpperCase().replace('SHA256', 'sha256')}" }`,
      '    - { name: ops, role: operator, token_file: ops.token }',
      '    - { name: root-ci, role: admin, token_env: CI_TOKEN }',
      '  restore_paths: [/srv/restore, /var/tmp/restore/]',
    ].join('\n'),
    { file: join(dir, 'lifeboat.yaml'), env: { CI_TOKEN: TOKEN } },
  );
  assert.deepEqual(cfg.api?.tokens, [
    { name: 'grafana', role: 'viewer', hash: sha('g-token') },
    // Trimmed, then hashed: what the API compares an Authorization header's token with.
    { name: 'ops', role: 'operator', hash: sha(`${TOKEN}-ops`) },
    { name: 'root-ci', role: 'admin', hash: sha(TOKEN) },
  ]);
  assert.deepEqual(cfg.api?.restorePaths, ['/srv/restore', '/var/tmp/restore']);
  assert.deepEqual(warnings, []);
  assert.ok(!JSON.stringify(cfg).includes(TOKEN));
  // Short tokens are easy to guess: said, not refused.
  const short = read('api:\n  tokens: [{ name: a, role: admin, token_env: T }]\n', { env: { T: 'abc' } }).warnings;
  assert.match(short[0]?.message ?? '', /api\.tokens\[0\]\.token_env: the token is shorter than 16 characters/);
});

test('api: token errors name the field and never quote a token', () => {
  const env = { CI_TOKEN: TOKEN, SAME: TOKEN };
  const tok = (entry: string): string => `api:\n  tokens:\n    - ${entry}\n`;
  assertError(tok('{ name: a, role: admn, hash: x }'), { line: 3, col: 24, field: 'api.tokens[0].role' }, /^"admn" is not a role: expected one of viewer, operator, admin; did you mean "admin"\?$/);
  assertError(tok('{ name: a, hash: x }'), { line: 3, col: 7, field: 'api.tokens[0].role' }, /^missing: expected one of viewer, operator, admin$/);
  const bad = assertError(tok(`{ name: a, role: admin, hash: "${TOKEN}" }`), { line: 3, col: 37, field: 'api.tokens[0].hash' }, /^expected sha256: and 64 hex digits \(printf %s "\$TOKEN" \| sha256sum\)$/);
  assert.ok(!bad.message.includes(TOKEN));
  assertError(tok('{ name: a, role: admin }'), { line: 3, col: 7, field: 'api.tokens[0].hash' }, /^missing: expected hash \(sha256:<hex>\), token_file or token_env$/);
  assertError(tok(`{ name: a, role: admin, hash: "${sha('x')}", token_env: CI_TOKEN }`), { line: 3, col: 112, field: 'api.tokens[0].token_env' }, /hash is given too/, { env });
  assertError(tok('{ name: a, role: admin, token_env: MISSING }'), { line: 3, col: 42, field: 'api.tokens[0].token_env' }, /^environment variable MISSING is not set/, { env });
  assertError(tok('{ name: a, role: admin, token: x }'), { line: 3, col: 31, field: 'api.tokens[0].token' }, /unknown field; did you mean "token_env"\?/);
  assertError(tok('{ name: "a b", role: admin, token_env: CI_TOKEN }'), { line: 3, col: 15, field: 'api.tokens[0].name' }, /not a valid token name/, { env });
  const twice = 'api:\n  tokens:\n    - { name: ci, role: admin, token_env: CI_TOKEN }\n    - { name: CI, role: viewer, hash: "' + sha('other') + '" }\n';
  assertError(twice, { line: 4, col: 15, field: 'api.tokens[1].name' }, /^"CI" is already the name of tokens\[0\]: expected names to differ$/, { env });
  const same = 'api:\n  tokens:\n    - { name: ci, role: admin, token_env: CI_TOKEN }\n    - { name: ci2, role: viewer, token_env: SAME }\n';
  const e = assertError(same, { line: 4, col: 7, field: 'api.tokens[1]' }, /^the same token as tokens\[0\] \(ci\): each token needs its own/, { env });
  assert.ok(!e.message.includes(TOKEN));
  assertError('api:\n  restore_paths: [srv/restore]\n', { line: 2, col: 19, field: 'api.restore_paths[0]' }, /^"srv\/restore" is relative: expected an absolute folder \(starting with \/\)$/);
  assertError('api:\n  restore_path: [/srv]\n', { line: 2, col: 3, field: 'api.restore_path' }, /did you mean "restore_paths"\?/);
  assert.match(readError('api: { listen: [a] }\n').message, /api\.listen: expected an address/);
});
