/** `lifeboat config check` end to end: the summary, --json, warnings, errors and exit codes; no secret printed. */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { ConfigSummary } from '../../src/config/index.ts';
import { tempDir } from '../helpers/repo.ts';
import { lifeboat, show } from './run-cli.ts';

const sample = fileURLToPath(new URL('../../docs/lifeboat.sample.yaml', import.meta.url));
const REPO_PW = 'repo-pw-Kx81-never-printed';
const ADMIN = 'admin-token-Vq27-never-printed';
const HOOK = 'hook-secret-Lm03-never-printed';
const HOTSITE = 'hotsite-token-Pz55-never-printed';
const secrets = [REPO_PW, ADMIN, HOOK, HOTSITE];
const sampleEnv = { LIFEBOAT_REPO_PASSWORD: REPO_PW, LIFEBOAT_ADMIN_TOKEN: ADMIN, LIFEBOAT_HOOK_SECRET: HOOK, LIFEBOAT_HOTSITE_TOKEN: HOTSITE };

function noSecrets(r: { stdout: string; stderr: string }): void {
  for (const s of secrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `printed a secret:\n${r.stdout}\n${r.stderr}`);
}

test('cli config check: the sample configuration is valid; the summary names what it configures and no secret', async () => {
  const r = await lifeboat(['config', 'check', '-c', sample], { env: sampleEnv });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stderr, '', show(r));
  noSecrets(r);
  assert.match(r.stdout, /lifeboat\.sample\.yaml: valid\n/);
  assert.match(r.stdout, /^site +primary \(data in \/var\/lib\/lifeboat\)$/m);
  assert.match(r.stdout, /^repository +main: \/srv\/lifeboat\/repo \(password from env LIFEBOAT_REPO_PASSWORD\)$/m);
  assert.match(r.stdout, /^group +web → repository main \[web\]$/m);
  assert.match(r.stdout, /^ {2}files +\/srv\/www, excluding \*\.tmp, \/srv\/www\/cache$/m);
  assert.match(r.stdout, /^ {2}postgres +logical: host=\/run\/postgresql dbname=app, 2 jobs$/m);
  assert.match(r.stdout, /^ {2}schedule +0 \*\/15 \* \* \* \*, next run \d{4}-\d\d-\d\d \d\d:(00|15|30|45):00 \S+, plus up to 30s$/m);
  assert.match(r.stdout, /^ {2}check +0 0 3 \* \* \*, next run \d{4}-\d\d-\d\d 03:00:00 \S+, reading 5% of the data$/m);
  assert.match(r.stdout, /^api +127\.0\.0\.1:7420, HTTPS, self-signed certificate; 2 tokens \(1 viewer, 1 admin\); restores into \/srv\/restore$/m);
  assert.match(r.stdout, /^notify +1 webhook \(https:\/\/hooks\.example\)$/m);
  assert.match(r.stdout, /^daemon +up to 2 jobs at once$/m);
  assert.match(r.stdout, /^ {2}replicate +to hotsite, a checkpoint every 1s$/m);
  assert.match(r.stdout, /^site \(peer\) +hotsite: https:\/\/203\.0\.113\.10:7420, certificate from CA \/etc\/lifeboat\/hotsite-ca\.pem; token from env LIFEBOAT_HOTSITE_TOKEN$/m);

  // LIFEBOAT_CONFIG instead of -c; --json: secrets only as where they come from.
  const j = await lifeboat(['--json', 'config', 'check'], { env: { ...sampleEnv, LIFEBOAT_CONFIG: sample } });
  assert.equal(j.code, 0, show(j));
  noSecrets(j);
  const doc = JSON.parse(j.stdout) as ConfigSummary & { ok: boolean; warnings: unknown[] };
  assert.equal(doc.ok, true);
  assert.deepEqual(doc.site, { name: 'primary', data: '/var/lib/lifeboat' });
  assert.deepEqual(doc.repositories, [{ name: 'main', path: '/srv/lifeboat/repo', password: { from: 'env LIFEBOAT_REPO_PASSWORD' } }]);
  assert.deepEqual(doc.notify.webhooks, [{ origin: 'https://hooks.example', events: ['job_failed', 'job_recovered', 'rpo_breach', 'rpo_recovered'], secret: { from: 'env LIFEBOAT_HOOK_SECRET' }, timeout_ms: 10000 }]);
  assert.deepEqual(doc.api?.tokens, [{ name: 'grafana', role: 'viewer' }, { name: 'ops', role: 'admin' }]);
  assert.deepEqual(doc.api?.tokens_by_role, { viewer: 1, operator: 0, admin: 1 });
  assert.ok(!j.stdout.includes('sha256:'), 'token hashes are not shown');
  const web = doc.groups[0]!;
  assert.equal(web.name, 'web');
  assert.ok(Date.parse(web.schedule?.next_run ?? '') > Date.now() - 60_000);
  assert.deepEqual(web.members.map((m) => m.kind), ['files', 'postgres', 'sqlite']);
  assert.deepEqual(doc.warnings, []);
});

test('cli config check: warnings go to stderr (exit 0) and name where, never what', async (t) => {
  const dir = await tempDir(t);
  writeFileSync(join(dir, 'repo.pass'), `${REPO_PW}\n`);
  chmodSync(join(dir, 'repo.pass'), 0o644);
  const file = join(dir, 'lifeboat.yaml');
  writeFileSync(
    file,
    `site: primary\nrepositories:\n  main: { path: repo, password_file: repo.pass }\n  lab: { path: /srv/lab, password: "${REPO_PW}" }\n` +
      `groups:\n  db:\n    repository: main\n    members:\n      - postgres: "host=db password=${HOOK}"\n    schedule: { cron: "@daily", timezone: UTC }\n    rpo: 1h\n` +
      `notify:\n  webhooks: [{ url: "https://chat.example/T1/B2/${ADMIN}" }]\n`,
  );
  const r = await lifeboat(['config', 'check', '-c', file]);
  assert.equal(r.code, 0, show(r));
  noSecrets(r);
  assert.match(r.stderr, new RegExp(`^lifeboat: warning: ${file}:3:\\d+: repositories\\.main\\.password_file: .*can be read by every user \\(mode 0644\\)`, 'm'));
  assert.match(r.stderr, /repositories\.lab\.password: the repository password is written in the configuration/);
  assert.match(r.stderr, /groups\.db\.members\[0\]\.postgres: the connection string holds a password/);
  assert.match(r.stderr, /groups\.db\.rpo: the schedule \(with its jitter\) can leave 1d between backups, more than the RPO of 1h/);
  assert.match(r.stdout, /^repository +lab: \/srv\/lab \(password written inline\)$/m);
  assert.match(r.stdout, /^ {2}postgres +logical: host=db password=\*\*\*$/m);
  assert.match(r.stdout, /^ {2}schedule +@daily \(UTC\), next run \d{4}-\d\d-\d\d 00:00:00 UTC$/m);
  const j = await lifeboat(['--json', 'config', 'check', '-c', file]);
  assert.equal(j.code, 0, show(j));
  noSecrets(j);
  const doc = JSON.parse(j.stdout) as { warnings: Array<{ field: string; line: number }>; repositories: unknown };
  assert.deepEqual(doc.warnings.map((w) => w.field), ['repositories.main.password_file', 'repositories.lab.password', 'groups.db.members[0].postgres', 'groups.db.rpo']);
  assert.deepEqual(doc.repositories, [
    { name: 'main', path: join(dir, 'repo'), password: { from: `file ${join(dir, 'repo.pass')}` } },
    { name: 'lab', path: '/srv/lab', password: { from: 'inline' } },
  ]);
});

test('cli config check: the first error, with file, line, column and field, exits 2', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'lifeboat.yaml');
  writeFileSync(file, `repositories:\n  main: { path: /r, password: "${REPO_PW}" }\ngroups:\n  web:\n    members: [{ files: [/srv] }]\n    retnetion: { last: 3 }\n`);
  const r = await lifeboat(['config', 'check', '-c', file]);
  assert.equal(r.code, 2, show(r));
  assert.equal(r.stdout, '');
  noSecrets(r);
  assert.match(r.stderr, new RegExp(`^lifeboat: ${file}:6:5: groups\\.web\\.retnetion: unknown field; did you mean "retention"\\? \\(known: `));
  const j = await lifeboat(['--json', 'config', 'check', '-c', file]);
  assert.equal(j.code, 2, show(j));
  const err = JSON.parse(j.stdout) as { message_type: string; error: { code: string; context: Record<string, unknown> }; exit_code: number };
  assert.equal(err.message_type, 'exit_error');
  assert.deepEqual(err.error.context, { file, line: 6, column: 5, field: 'groups.web.retnetion' });
  assert.equal(err.exit_code, 2);

  writeFileSync(file, 'repositories:\n  main: { path: /r, password_env: LIFEBOAT_TEST_NOPE }\n');
  const env = await lifeboat(['config', 'check', '-c', file]);
  assert.equal(env.code, 2, show(env));
  assert.match(env.stderr, /repositories\.main\.password_env: environment variable LIFEBOAT_TEST_NOPE is not set/);

  writeFileSync(file, 'groups: [\n');
  const yaml = await lifeboat(['config', 'check', '-c', file]);
  assert.equal(yaml.code, 2, show(yaml));
  assert.match(yaml.stderr, new RegExp(`${file}:2:1: not valid YAML`));

  const missing = await lifeboat(['config', 'check', '-c', join(dir, 'none.yaml')]);
  assert.equal(missing.code, 2, show(missing));
  assert.match(missing.stderr, /cannot read the configuration .*none\.yaml/);

  const none = await lifeboat(['config', 'check']);
  assert.equal(none.code, 2, show(none));
  assert.match(none.stderr, /no configuration given\nhint: pass --config FILE \(or set LIFEBOAT_CONFIG\)/);

  const help = await lifeboat(['config', 'check', '--help']);
  assert.equal(help.code, 0, show(help));
  assert.match(help.stdout, /EXAMPLES[\s\S]*EXIT STATUS\n {2}0 {3}the configuration is valid/);
});
