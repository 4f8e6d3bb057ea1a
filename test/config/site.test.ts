/** `site:` — a name alone or { name, data }; the data folder's default depends on who runs the daemon. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertError, read, yaml } from './helpers.ts';

test('site: a name alone (the older form) keeps working, with the data folder defaulted', () => {
  assert.deepEqual(read('site: primary\n').cfg.site, { name: 'primary', data: '/home/ann/.local/share/lifeboat' });
  assert.deepEqual(read('site: primary\n', { uid: 0 }).cfg.site, { name: 'primary', data: '/var/lib/lifeboat' });
  assert.deepEqual(read('site: primary\n', { env: { XDG_DATA_HOME: '/data/ann' } }).cfg.site?.data, '/data/ann/lifeboat');
  // A relative XDG_DATA_HOME is invalid by the XDG spec, and ignored.
  assert.deepEqual(read('site: primary\n', { env: { XDG_DATA_HOME: 'rel' } }).cfg.site?.data, '/home/ann/.local/share/lifeboat');
});

test('site: { name, data }, data relative to the configuration file', () => {
  assert.deepEqual(read('site: { name: hot-site, data: /srv/lb }\n').cfg.site, { name: 'hot-site', data: '/srv/lb' });
  assert.deepEqual(read('site: { name: primary, data: state }\n').cfg.site, { name: 'primary', data: '/etc/lifeboat/state' });
  assert.deepEqual(read('site: { name: primary }\n', { uid: 0 }).cfg.site, { name: 'primary', data: '/var/lib/lifeboat' });
});

test('site: no site section, an empty file', () => {
  const { cfg } = read('');
  assert.equal(cfg.site, undefined);
  assert.deepEqual(cfg, { file: '/etc/lifeboat/lifeboat.yaml', repositories: [], groups: [], notify: { webhooks: [] }, daemon: { maxConcurrentJobs: 2 }, sites: [], journals: [] });
});

test('site: errors name line, column and field', () => {
  assertError('site: pri_mary\n', { line: 1, col: 7, field: 'site' }, /"pri_mary" is not a site name \(letters, digits, -\)/);
  assertError(yaml`
    site:
      name: primary
      date: /srv
  `, { line: 3, col: 3, field: 'site.date' }, /^unknown field; did you mean "data"\? \(known: name, data\)$/);
  assertError('site: { data: /srv }\n', { line: 1, col: 1, field: 'site.name' }, /^missing: expected a site name/);
  assertError('site: [a]\n', { line: 1, col: 7, field: 'site' }, /expected a mapping/);
});
