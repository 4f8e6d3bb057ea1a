/** `groups:` — members, schedules (croner), retention, hooks, objectives, checks, tags. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextRun } from '../../src/config/index.ts';
import { assertError, NOW, read, yaml } from './helpers.ts';

const repos = 'repositories:\n  main: { path: /srv/repo, password: x }\n';
const two = 'repositories:\n  main: { path: /srv/repo, password: x }\n  offsite: { path: /srv/off, password: y }\n';

test('groups: every field, read into the typed values', () => {
  const { cfg } = read(
    two +
      yaml`
        groups:
          web:
            repository: offsite
            members:
              - files: { paths: [/srv/www, data], exclude: ['*.tmp'], one_file_system: true }
              - files: [/etc]
              - files: /root
              - postgres: { conn: 'host=/run/postgresql dbname=app', mode: logical, jobs: 2 }
              - postgres: { conn: 'postgresql://backup@db/app', mode: physical }
              - postgres: 'dbname=other'
              - sqlite: /var/lib/app/app.db
              - sqlite: { path: app2.db }
            schedule: "0 */15 * * * *"
            jitter: 1m30s
            retention: { last: 24, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: -1, within: 7d, tags: [[keep, web], gold] }
            hooks: { pre: "sync", post: "echo done", timeout: 5m }
            rpo: 1h
            rto: 15m
            check: { schedule: { cron: "0 0 3 * * *", timezone: Europe/Paris }, read_data_subset: 5% }
            tags: [web, prod]
      `,
  );
  assert.deepEqual(cfg.groups, [
    {
      name: 'web',
      repository: 'offsite',
      members: [
        { kind: 'files', paths: ['/srv/www', '/etc/lifeboat/data'], excludes: ['*.tmp'], oneFileSystem: true },
        { kind: 'files', paths: ['/etc'], excludes: [], oneFileSystem: false },
        { kind: 'files', paths: ['/root'], excludes: [], oneFileSystem: false },
        { kind: 'postgres', mode: 'logical', conn: 'host=/run/postgresql dbname=app', jobs: 2 },
        { kind: 'postgres', mode: 'physical', conn: 'postgresql://backup@db/app' },
        { kind: 'postgres', mode: 'logical', conn: 'dbname=other' },
        { kind: 'sqlite', path: '/var/lib/app/app.db' },
        { kind: 'sqlite', path: '/etc/lifeboat/app2.db' },
      ],
      schedule: { cron: '0 */15 * * * *' },
      jitterMs: 90_000,
      retention: { last: 24, hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: -1, within: '7d', tags: [['keep', 'web'], ['gold']] },
      hooks: { pre: 'sync', post: 'echo done', timeoutMs: 300_000 },
      objectives: { rpoMs: 3_600_000, rtoMs: 900_000 },
      check: { schedule: { cron: '0 0 3 * * *', timezone: 'Europe/Paris' }, readDataSubset: '5%' },
      tags: ['web', 'prod'],
    },
  ]);
});

test('groups: defaults; the repository may be left out when there is only one', () => {
  const { cfg, warnings } = read(repos + 'groups:\n  db:\n    members: [{ sqlite: /var/lib/app.db }]\n');
  assert.deepEqual(cfg.groups, [{ name: 'db', repository: 'main', members: [{ kind: 'sqlite', path: '/var/lib/app.db' }], jitterMs: 0, objectives: {}, tags: [] }]);
  assert.equal(warnings.length, 1); // the inline password of `repos`
});

test('groups: schedules are read by croner: 5 or 6 fields, shorthands, a time zone; next runs', () => {
  const sched = (s: string): unknown => read(repos + `groups:\n  g:\n    members: [{ files: [/a] }]\n    schedule: ${s}\n`).cfg.groups[0]!.schedule;
  assert.deepEqual(sched('"30 2 * * *"'), { cron: '30 2 * * *' });
  assert.deepEqual(sched('"@daily"'), { cron: '@daily' });
  assert.deepEqual(sched('{ cron: "0 0 3 * * MON", timezone: America/New_York }'), { cron: '0 0 3 * * MON', timezone: 'America/New_York' });
  // NOW is Thursday 2026-01-15 10:07:30 UTC.
  assert.equal(nextRun({ cron: '0 */15 * * * *', timezone: 'UTC' }, NOW)?.toISOString(), '2026-01-15T10:15:00.000Z');
  assert.equal(nextRun({ cron: '30 2 * * *', timezone: 'Europe/Paris' }, NOW)?.toISOString(), '2026-01-16T01:30:00.000Z');
  assert.equal(nextRun({ cron: '@weekly', timezone: 'UTC' }, NOW)?.toISOString(), '2026-01-18T00:00:00.000Z');
});

test('groups: bad schedules say what is wrong and what is expected', () => {
  const g = (s: string): string => repos + `groups:\n  g:\n    members: [{ files: [/a] }]\n    schedule: ${s}\n`;
  const at = { line: 6, col: 15, field: 'groups.g.schedule' };
  assertError(g('"* * * *"'), at, /^"\* \* \* \*" has 4 fields: expected cron with 5 or 6 fields \("0 \*\/15 \* \* \* \*" = every 15 minutes/);
  assertError(g('"0 0 0 1 1 * 2030"'), at, /has 7 fields: expected cron with 5 or 6 fields/);
  assertError(g('"61 * * * *"'), at, /^"61 \* \* \* \*": Invalid value for minute: 61; expected cron with 5 or 6 fields/);
  assertError(g('"0 0 30 2 *"'), at, /matches no date \(such as the 30th of February\), so it would never run/);
  assertError(g('"@reboot"'), at, /"@reboot" is not a known shorthand: expected cron .* @hourly, @daily, @weekly, @monthly, @yearly/);
  assertError(g('""'), at, /^missing: expected cron/);
  assertError(g('{ cron: "@daily", timezone: Mars/Base }'), { line: 6, col: 43, field: 'groups.g.schedule.timezone' }, /^unknown time zone "Mars\/Base": expected an IANA name such as Europe\/Paris/);
  assertError(g('{ cron: "* * *" }'), { line: 6, col: 23, field: 'groups.g.schedule.cron' }, /has 3 fields/);
  assertError(g('{ crn: "@daily" }'), { line: 6, col: 17, field: 'groups.g.schedule.crn' }, /unknown field; did you mean "cron"\?/);
  assertError(repos + 'groups:\n  g:\n    members: [{ files: [/a] }]\n    check: { read_data_subset: 5% }\n', { line: 6, col: 5, field: 'groups.g.check.schedule' }, /^missing: expected when to check/);
  assertError(repos + 'groups:\n  g:\n    members: [{ files: [/a] }]\n    check: { schedule: "@weekly", read_data_subset: 1/5 }\n', { line: 6, col: 53, field: 'groups.g.check.read_data_subset' }, /expected a percentage of the packs to read, above 0 and at most 100 \(5%\)/);
  assertError(repos + 'groups:\n  g:\n    members: [{ files: [/a] }]\n    check: { schedule: "@weekly", read_data_subset: 150% }\n', { line: 6, col: 53, field: 'groups.g.check.read_data_subset' }, /above 0 and at most 100/);
});

test('groups: durations need a unit; retention is checked as forget would', () => {
  const g = (field: string): string => repos + `groups:\n  g:\n    members: [{ files: [/a] }]\n    ${field}\n`;
  assertError(g('jitter: 30'), { line: 6, col: 13, field: 'groups.g.jitter' }, /^30 has no unit: expected a duration such as 30s, 5m, 1h30m or 7d/);
  assertError(g('rpo: 1 hour'), { line: 6, col: 10, field: 'groups.g.rpo' }, /^"1 hour" is not a duration: expected a duration such as 30s/);
  assertError(g('rto: 5m1h'), { line: 6, col: 10, field: 'groups.g.rto' }, /largest first/);
  assertError(g('hooks: { pre: x, timeout: 0s }'), { line: 6, col: 31, field: 'groups.g.hooks.timeout' }, /^expected at least 1s$/);
  assertError(g('hooks: { timeout: 1m }'), { line: 6, col: 12, field: 'groups.g.hooks' }, /expected pre, post or both/);
  assertError(g('retention: { dayly: 7 }'), { line: 6, col: 18, field: 'groups.g.retention.dayly' }, /unknown field; did you mean "daily"\?/);
  assertError(g('retention: { daily: 1.5 }'), { line: 6, col: 25, field: 'groups.g.retention.daily' }, /expected a whole number from -1/);
  assertError(g('retention: { within: 7x }'), { line: 6, col: 26, field: 'groups.g.retention.within' }, /unknown unit "x" after 7.*units y, m, d, h/);
  assertError(g('retention: { within: 7 }'), { line: 6, col: 26, field: 'groups.g.retention.within' }, /7 has no unit/);
  assertError(g('retention: {}'), { line: 6, col: 16, field: 'groups.g.retention' }, /keeps nothing: expected at least one of last/);
  assertError(g('retention: { tags: [] }'), { line: 6, col: 24, field: 'groups.g.retention.tags' }, /expected at least one entry/);
  // In `within`, m is months (restic's --keep-within): said, since everywhere else m is minutes.
  const { warnings } = read(g('retention: { within: 6m }'));
  assert.ok(warnings.some((w) => w.field === 'groups.g.retention.within' && /"m" here means months.*6 months/.test(w.message)), JSON.stringify(warnings));
});

test('groups: repository references, members', () => {
  assertError(two + 'groups:\n  g:\n    members: [{ files: [/a] }]\n', { line: 5, col: 3, field: 'groups.g.repository' }, /^missing: expected one of main, offsite \(it may be left out only when there is exactly one\)$/);
  assertError('groups:\n  g:\n    members: [{ files: [/a] }]\n', { line: 2, col: 3, field: 'groups.g.repository' }, /no repository is configured/);
  assertError(two + 'groups:\n  g:\n    repository: mian\n    members: [{ files: [/a] }]\n', { line: 6, col: 17, field: 'groups.g.repository' }, /^no repository "mian" under repositories; did you mean "main"\? \(known: main, offsite\)$/);
  assertError(repos + 'groups:\n  g:\n    members: []\n', { line: 5, col: 14, field: 'groups.g.members' }, /expected at least one entry/);
  assertError(repos + 'groups:\n  g: {}\n', { line: 4, col: 3, field: 'groups.g.members' }, /^missing: expected a list/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - file: [/a]\n', { line: 6, col: 9, field: 'groups.g.members[0].file' }, /^unknown member kind; did you mean "files"\? \(known: files, postgres, sqlite\)$/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - files: [/a]\n        sqlite: /b\n', { line: 6, col: 9, field: 'groups.g.members[0]' }, /each its own list item.*this one has files, sqlite/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - /srv\n', { line: 6, col: 9, field: 'groups.g.members[0]' }, /expected a member: one of files, postgres, sqlite/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - files: { paths: [] }\n', { line: 6, col: 25, field: 'groups.g.members[0].files.paths' }, /at least one entry/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - files: { paths: [/a], excludes: [x] }\n', { line: 6, col: 31, field: 'groups.g.members[0].files.excludes' }, /unknown field; did you mean "exclude"\?/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - files: { paths: [/a], one_file_system: yes }\n', { line: 6, col: 48, field: 'groups.g.members[0].files.one_file_system' }, /expected true or false/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - postgres: { conn: x, mode: logic }\n', { line: 6, col: 36, field: 'groups.g.members[0].postgres.mode' }, /expected logical \(pg_dump, the default\) or physical/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - postgres: { conn: x, mode: physical, jobs: 2 }\n', { line: 6, col: 46, field: 'groups.g.members[0].postgres.jobs' }, /jobs is for logical backups/);
  assertError(repos + 'groups:\n  g:\n    members:\n      - postgres: { mode: physical }\n', { line: 6, col: 9, field: 'groups.g.members[0].postgres.conn' }, /^missing: expected a connection string/);
  assertError(repos + 'groups:\n  "web site":\n    members: [{ files: [/a] }]\n', { line: 4, col: 3, field: 'groups.web site' }, /is not a valid group name/);
  assertError(repos + 'groups:\n  g:\n    members: [{ files: [/a] }]\n    tags: ["a,b"]\n', { line: 6, col: 12, field: 'groups.g.tags[0]' }, /"a,b" is not a tag \(no commas or spaces\)/);
});

test('groups: a password in a connection string is warned about, never shown', () => {
  const { cfg, warnings } = read(repos + "groups:\n  g:\n    members:\n      - postgres: 'host=db password=Sup3rS3cret dbname=app'\n");
  assert.equal(cfg.groups[0]!.members[0]!.kind, 'postgres');
  const w = warnings.find((x) => x.field === 'groups.g.members[0].postgres');
  assert.ok(w, JSON.stringify(warnings));
  assert.match(w.message, /holds a password.*~\/\.pgpass/);
  assert.ok(!warnings.some((x) => x.message.includes('Sup3rS3cret')));
  // A connection string with a password is not quoted in errors either.
  const bad = read(repos + "groups:\n  g:\n    members:\n      - postgres: { conn: 'password=Sup3rS3cret', mode: physical }\n").warnings;
  assert.ok(!bad.some((x) => x.message.includes('Sup3rS3cret')));
});

test('groups: an RPO the schedule cannot keep is warned about', () => {
  const g = (extra: string): string[] => read(repos + `groups:\n  g:\n    members: [{ files: [/a] }]\n${extra}`).warnings.filter((w) => w.field === 'groups.g.rpo').map((w) => w.message);
  assert.deepEqual(g('    schedule: "0 0 * * * *"\n    rpo: 1h\n'), []);
  assert.match(g('    schedule: "0 0 * * * *"\n    jitter: 5m\n    rpo: 1h\n')[0] ?? '', /can leave 1h5m between backups, more than the RPO of 1h/);
  // Weekdays only: the weekend's gap counts.
  assert.match(g('    schedule: "0 2 * * 1-5"\n    rpo: 1d\n')[0] ?? '', /can leave 3d between backups/);
  assert.match(g('    rpo: 1h\n')[0] ?? '', /there is no schedule/);
});
