/** The CLI with a real PostgreSQL cluster: back up a database, list its tables, restore one dropped table. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { PgCluster } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/repo.ts';
import { lifeboat, show } from './run-cli.ts';

test('cli: backup --postgres, ls shows the tables, restore --table brings back a dropped table, refusals and exit codes', async (t) => {
  const dir = await tempDir(t, 'lb-cli-pg-');
  const pg = await PgCluster.create(t, join(dir, 'pg'));
  await pg.sql('CREATE DATABASE shop');
  await pg.script(
    `CREATE TABLE orders (id int PRIMARY KEY, total numeric NOT NULL CHECK (total >= 0));
     CREATE INDEX orders_total_idx ON orders (total);
     INSERT INTO orders SELECT g, g * 2 FROM generate_series(1, 5000) g;
     CREATE TABLE notes (id int PRIMARY KEY, body text);
     INSERT INTO notes VALUES (1, 'keep me');`,
    'shop',
  );
  const repo = join(dir, 'repo');
  const init = await lifeboat(['-r', repo, 'init']);
  assert.equal(init.code, 0, show(init));

  const bad = await lifeboat(['-r', repo, 'backup', '--postgres', pg.uri('shop', 'not-the-password')]);
  assert.equal(bad.code, 14, show(bad));
  assert.match(bad.stderr, /cannot connect to PostgreSQL \(postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/shop\).*password authentication failed/);
  assert.doesNotMatch(bad.stderr + bad.stdout, /not-the-password/);

  const backup = await lifeboat(['-r', repo, '--json', 'backup', '--postgres', pg.conn('shop'), '--tag', 'daily']);
  assert.equal(backup.code, 0, show(backup));
  const summary = JSON.parse(backup.stdout.trim().split('\n').pop()!) as { snapshot_id: string };
  const snaps = await lifeboat(['-r', repo, '--json', 'snapshots']);
  assert.equal((JSON.parse(snaps.stdout) as unknown[]).length, 1, 'the failed backup saved nothing');

  const ls = await lifeboat(['-r', repo, 'ls', summary.snapshot_id]);
  assert.equal(ls.code, 0, show(ls));
  assert.match(ls.stdout, /public\.orders\s+5000/);
  assert.match(ls.stdout, /public\.notes\s+1/);

  await pg.sql('DROP TABLE orders', 'shop');
  await pg.sql("UPDATE notes SET body = 'changed since'", 'shop');
  const restore = await lifeboat(['-r', repo, 'restore', 'latest', '--postgres', pg.conn('shop'), '--table', 'orders']);
  assert.equal(restore.code, 0, show(restore));
  assert.match(restore.stdout, /restored public\.orders \(5000 rows\)/);
  assert.equal(await pg.sql('SELECT count(*) || \' \' || sum(total) FROM orders', 'shop'), '5000 25005000');
  assert.equal(await pg.sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'orders_total_idx'", 'shop'), 'CREATE INDEX orders_total_idx ON public.orders USING btree (total)');
  assert.equal(await pg.sql('SELECT body FROM notes', 'shop'), 'changed since', 'other tables untouched');

  const again = await lifeboat(['-r', repo, 'restore', 'latest', '--postgres', pg.conn('shop'), '--table', 'orders']);
  assert.equal(again.code, 2, show(again));
  assert.match(again.stderr, /table public\.orders already exists/);
  assert.match(again.stderr, /hint: .*--replace/);
  const unknown = await lifeboat(['-r', repo, 'restore', 'latest', '--postgres', pg.conn('shop'), '--table', 'nope']);
  assert.notEqual(unknown.code, 0);
  assert.match(unknown.stderr, /table nope is not in snapshot/);
});
