/** `sites:`, `journals:` and a group's `replicate:` — the peers a site talks to and the journals it keeps. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { assertError, read, yaml } from './helpers.ts';

const env = { HOT_TOKEN: 'token-to-the-hot-site-0123456789', PRIMARY_TOKEN: 'token-from-the-primary-0123456789', REPO_PW: 'the repository password' };
const FP = `sha256:${'ab'.repeat(32)}`;

test('replication: a group replicates to a named site; the hot site keeps its journal with the primary\'s token hashed', () => {
  const { cfg, warnings } = read(
    yaml`
      site: { name: primary, data: /var/lib/lifeboat }
      repositories: { main: { path: /srv/repo, password_env: REPO_PW } }
      sites:
        hotsite: { url: "https://198.51.100.12:7420", fingerprint: "${FP.toUpperCase().replace('SHA256', 'sha256')}", token_env: HOT_TOKEN }
      groups:
        web:
          members: [ { files: [/srv/www] } ]
          replicate: { to: hotsite, every: 2s }
        docs:
          members: [ { files: [/srv/docs] } ]
          replicate: hotsite
      journals:
        shop: { from: primary, token_env: PRIMARY_TOKEN, password_env: REPO_PW, replica: /srv/replica/shop }
    `,
    { env },
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(cfg.sites, [{ name: 'hotsite', url: 'https://198.51.100.12:7420', fingerprint: FP, token: { from: 'env HOT_TOKEN', value: env.HOT_TOKEN } }]);
  assert.deepEqual(cfg.groups.map((g) => g.replicate), [{ to: 'hotsite', everyMs: 2000 }, { to: 'hotsite', everyMs: 1000 }]);
  assert.deepEqual(cfg.journals, [
    {
      group: 'shop',
      from: 'primary',
      tokenHash: `sha256:${createHash('sha256').update(env.PRIMARY_TOKEN).digest('hex')}`,
      password: { from: 'env REPO_PW', value: env.REPO_PW },
      path: '/var/lib/lifeboat/journals/shop',
      replica: '/srv/replica/shop',
    },
  ]);
  assert.ok(!JSON.stringify(cfg.journals).includes(env.PRIMARY_TOKEN), 'the journal token is kept hashed');
});

test('replication: bad input is named with its line and what is expected', () => {
  const base = "repositories: { main: { path: /srv/repo, password: x } }\n";
  assertError(`${base}sites: { hot: { url: "http://h:1", token_env: HOT_TOKEN } }\n`, { line: 2, col: 22, field: 'sites.hot.url' }, /^expected https:\/\/HOST:PORT/, { env });
  assertError(`${base}sites: { hot: { url: "https://h:1/x", token_env: HOT_TOKEN } }\n`, { line: 2, col: 22, field: 'sites.hot.url' }, /no path/, { env });
  assertError(`${base}sites: { hot: { url: "https://h:1" } }\n`, { line: 2, col: 10, field: 'sites.hot.token' }, /^missing: expected the token/, { env });
  assertError(`${base}groups: { web: { members: [ { files: [/a] } ], replicate: { to: hotsit } } }\n`, { line: 2, col: 65, field: 'groups.web.replicate.to' }, /^no site "hotsit" under sites/, { env });
  assertError(`${base}sites: { hot: { url: "https://h:1", token_env: HOT_TOKEN } }\ngroups: { web: { members: [ { sqlite: /a.db } ], replicate: hot } }\n`, { line: 3, col: 61, field: 'groups.web.replicate' }, /files members today/, { env });
  assertError(`${base}journals: { shop: { token_env: PRIMARY_TOKEN, password_env: REPO_PW } }\n`, { line: 2, col: 13, field: 'journals.shop.path' }, /^missing: expected the journal folder/, { env });
  assertError(`${base}journals: { shop: { token_env: PRIMARY_TOKEN, path: /j, passwrd_env: REPO_PW } }\n`, { line: 2, col: 57, field: 'journals.shop.passwrd_env' }, /did you mean "password_env"/, { env });
});
