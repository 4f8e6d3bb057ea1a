/** `notify:` — webhooks: http(s) URLs, known events (all by default), a signing secret, a timeout. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/repo.ts';
import { assertError, read } from './helpers.ts';

const SECRET = 'whsec_never_in_a_message_91c2';

test('notify: webhooks with their defaults, secrets from a file or the environment', async (t) => {
  const dir = await tempDir(t);
  writeFileSync(join(dir, 'hook.key'), `${SECRET}\n`, { mode: 0o600 });
  const { cfg, warnings } = read(
    [
      'notify:',
      '  webhooks:',
      '    - { url: "https://hooks.example/lifeboat", events: [job_failed, rpo_breach, job_failed], secret_file: hook.key, timeout: 3s }',
      '    - url: http://127.0.0.1:9000/x',
      '      secret_env: HOOK',
    ].join('\n'),
    { file: join(dir, 'lifeboat.yaml'), env: { HOOK: SECRET } },
  );
  assert.deepEqual(cfg.notify.webhooks, [
    { url: 'https://hooks.example/lifeboat', events: ['job_failed', 'rpo_breach'], secret: { from: `file ${join(dir, 'hook.key')}`, value: SECRET }, timeoutMs: 3000 },
    { url: 'http://127.0.0.1:9000/x', events: ['job_failed', 'job_recovered', 'rpo_breach', 'rpo_recovered'], secret: { from: 'env HOOK', value: SECRET }, timeoutMs: 10_000 },
  ]);
  assert.deepEqual(warnings, []);
  assert.deepEqual(read('').cfg.notify, { webhooks: [] });
  assert.deepEqual(read('notify:\n').cfg.notify, { webhooks: [] });
  const inline = read(`notify:\n  webhooks: [{ url: "https://h.example", secret: "${SECRET}" }]\n`).warnings;
  assert.equal(inline.length, 1);
  assert.match(inline[0]!.message, /notify\.webhooks\[0\]\.secret: the webhook secret is written in the configuration/);
  assert.ok(!inline[0]!.message.includes(SECRET));
});

test('notify: errors', () => {
  const hook = (entry: string): string => `notify:\n  webhooks:\n    - ${entry}\n`;
  assertError(hook('{ url: "ftp://h.example/x" }'), { line: 3, col: 14, field: 'notify.webhooks[0].url' }, /^expected an http:\/\/ or https:\/\/ URL$/);
  // Not quoted back: a webhook URL often carries a credential in its path.
  const e = assertError(hook('{ url: "hooks.example/T0/B0/s3cr3tpath" }'), { line: 3, col: 14, field: 'notify.webhooks[0].url' }, /expected an http/);
  assert.ok(!e.message.includes('s3cr3tpath'));
  assertError(hook('{ events: [job_failed] }'), { line: 3, col: 7, field: 'notify.webhooks[0].url' }, /^missing: expected an http/);
  assertError(hook('{ url: "https://h.example", events: [job_faild] }'), { line: 3, col: 44, field: 'notify.webhooks[0].events[0]' }, /^"job_faild" is not an event; did you mean "job_failed"\? \(known: job_failed, job_recovered, rpo_breach, rpo_recovered\)$/);
  assertError(hook('{ url: "https://h.example", events: [] }'), { line: 3, col: 43, field: 'notify.webhooks[0].events' }, /at least one entry/);
  assertError(hook('{ url: "https://h.example", timeout: 10 }'), { line: 3, col: 44, field: 'notify.webhooks[0].timeout' }, /^10 has no unit/);
  assertError(hook('{ url: "https://h.example", timeout: 1h }'), { line: 3, col: 44, field: 'notify.webhooks[0].timeout' }, /^expected at most 5m$/);
  assertError(hook('{ url: "https://h.example", secret_env: NOPE }'), { line: 3, col: 47, field: 'notify.webhooks[0].secret_env' }, /^environment variable NOPE is not set: expected it to hold the webhook secret$/);
  assertError('notify:\n  webhook: []\n', { line: 2, col: 3, field: 'notify.webhook' }, /did you mean "webhooks"\?/);
});
