/**
 * Logical PostgreSQL backups against a real PostgreSQL cluster made in a temp folder: a dropped table
 * restored alone with its rows, indexes and constraints; restore beside it under a new name; refusal to
 * overwrite; a bad connection leaves no snapshot.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LifeboatError } from '../../../src/core/index.ts';
import { loadSnapshots } from '../../../src/repo/index.ts';
import { backupPostgresLogical, restorePostgresLogical, type LogicalSource } from '../../../src/sources/postgres/index.ts';
import { PgCluster } from '../../helpers/postgres.ts';
import { newRepo, tempDir } from '../../helpers/repo.ts';

const schema = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL UNIQUE, email text);
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers(id),
  amount numeric(10,2) NOT NULL CHECK (amount >= 0),
  note text,
  created timestamptz NOT NULL DEFAULT '2026-01-01 00:00:00+00'
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE UNIQUE INDEX orders_note_uq ON orders (note) WHERE note IS NOT NULL;
COMMENT ON TABLE orders IS 'every order';
CREATE TABLE order_items (id serial PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders(id), sku text NOT NULL, qty int NOT NULL);
CREATE FUNCTION orders_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := coalesce(NEW.note, NULL); RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION orders_touch();
INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 1000) g;
INSERT INTO orders (customer_id, amount, note, created)
  SELECT 1 + g % 1000, (g % 997) * 1.25, CASE WHEN g % 10 = 0 THEN 'note ' || g || E'\\twith tab' END, '2026-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, 60000) g;
INSERT INTO order_items (order_id, sku, qty) SELECT 1 + g % 60000, 'sku-' || (g % 500), 1 + g % 7 FROM generate_series(1, 39000) g;
ANALYZE;
`;

/** Everything about a table that must come back: rows, indexes, constraints, triggers, comment, sequence. */
async function fingerprint(pg: PgCluster, table: string, db = 'shop'): Promise<Record<string, string>> {
  return {
    rows: await pg.sql(`SELECT count(*) || ':' || md5(string_agg(t::text, '|' ORDER BY id)) FROM ${table} t`, db),
    indexes: await pg.sql(`SELECT string_agg(indexdef, E'\\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = '${table}'`, db),
    constraints: await pg.sql(`SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), E'\\n' ORDER BY conname) FROM pg_constraint WHERE conrelid = '${table}'::regclass`, db),
    triggers: await pg.sql(`SELECT coalesce(string_agg(tgname, ',' ORDER BY tgname), '') FROM pg_trigger WHERE tgrelid = '${table}'::regclass AND NOT tgisinternal`, db),
    comment: await pg.sql(`SELECT coalesce(obj_description('${table}'::regclass, 'pg_class'), '')`, db),
  };
}

test('logical backup: a dropped table comes back alone, with its rows, indexes, constraints and the keys that pointed at it', async (t) => {
  const dir = await tempDir(t);
  const pg = await PgCluster.create(t, join(dir, 'pg'));
  await pg.sql('CREATE DATABASE shop');
  await pg.script(schema, 'shop');
  const repo = await newRepo(dir);
  const before = { orders: await fingerprint(pg, 'orders'), items: await fingerprint(pg, 'order_items'), customers: await fingerprint(pg, 'customers') };

  const res = await backupPostgresLogical(repo, { conn: pg.conn('shop') });
  const src = res.snapshot.source as LogicalSource;
  assert.equal(res.snapshot.consistency, 'application');
  assert.equal(src.mode, 'logical');
  assert.match(src.server_version, /^\d+/);
  assert.equal(src.database.name, 'shop');
  const byName = new Map(src.database.tables.map((x) => [x.name, x]));
  assert.equal(byName.get('orders')?.rows, 60000);
  assert.equal(byName.get('customers')?.rows, 1000);
  assert.equal(byName.get('order_items')?.rows, 39000);
  assert.ok((byName.get('orders')?.bytes ?? 0) > 0);
  assert.deepEqual(res.snapshot.paths, ['/postgres/shop']);

  // The accident, and later writes to the other tables that must survive the restore.
  await pg.sql('DROP TABLE orders CASCADE', 'shop');
  await pg.sql("INSERT INTO customers (name) VALUES ('after the accident')", 'shop');
  const customersAfter = await fingerprint(pg, 'customers');

  const [snap] = await loadSnapshots(repo);
  const r = await restorePostgresLogical(repo, snap!, { conn: pg.conn('shop'), tables: ['public.orders'] });
  assert.deepEqual(r.tables.map((x) => x.name), ['orders']);
  assert.deepEqual(await fingerprint(pg, 'orders'), before.orders);
  // order_items' foreign key to orders, dropped by CASCADE, is back; its rows were never touched.
  assert.deepEqual(await fingerprint(pg, 'order_items'), before.items);
  assert.deepEqual(await fingerprint(pg, 'customers'), customersAfter);
  // The identity sequence continues after the restored rows.
  assert.equal(await pg.sql("INSERT INTO orders (customer_id, amount) VALUES (1, 1) RETURNING id", 'shop'), '60001');

  // Restoring over the existing table is refused, and nothing changes.
  const fpNow = await fingerprint(pg, 'orders');
  await assert.rejects(
    restorePostgresLogical(repo, snap!, { conn: pg.conn('shop'), tables: ['orders'] }),
    (err: unknown) => err instanceof LifeboatError && err.code === 'EXISTS' && /public\.orders/.test(err.message) && /--replace/.test(err.hint ?? ''),
  );
  assert.deepEqual(await fingerprint(pg, 'orders'), fpNow);

  // --replace puts the snapshot's version back (the row added since disappears).
  await restorePostgresLogical(repo, snap!, { conn: pg.conn('shop'), tables: ['orders'], replace: true });
  assert.deepEqual(await fingerprint(pg, 'orders'), before.orders);

  // --as: beside the live table, with its own indexes and keys.
  await restorePostgresLogical(repo, snap!, { conn: pg.conn('shop'), tables: ['orders'], as: 'orders_restored' });
  assert.equal(await pg.sql('SELECT count(*) FROM orders_restored', 'shop'), '60000');
  assert.equal(
    await pg.sql("SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM orders_restored t", 'shop'),
    before.orders['rows']!.split(':')[1],
  );
  assert.match(await pg.sql("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'orders_restored'", 'shop'), /orders_restored_customer_idx.*orders_restored_pkey/);
  assert.match(await pg.sql("SELECT string_agg(pg_get_constraintdef(oid), ',') FROM pg_constraint WHERE conrelid = 'orders_restored'::regclass AND contype = 'f'", 'shop'), /REFERENCES customers\(id\)/);
  assert.equal(await pg.sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'lifeboat_scratch_%'"), '0');

  // A whole database under a new name (created), and refusal to restore over a database that has tables.
  const copy = await restorePostgresLogical(repo, snap!, { conn: pg.conn('shop_copy') });
  assert.equal(copy.created_database, true);
  assert.deepEqual(await fingerprint(pg, 'orders', 'shop_copy'), before.orders);
  await assert.rejects(restorePostgresLogical(repo, snap!, { conn: pg.conn('shop_copy') }), (err: unknown) => err instanceof LifeboatError && err.code === 'EXISTS');
});

test('logical backup: a wrong password or server is a clear error naming the target, and no snapshot is saved', async (t) => {
  const dir = await tempDir(t);
  const pg = await PgCluster.create(t, join(dir, 'pg'));
  const repo = await newRepo(dir);
  await assert.rejects(backupPostgresLogical(repo, { conn: pg.uri('postgres', 'wrong-password') }), (err: unknown) => {
    assert.ok(err instanceof LifeboatError);
    assert.equal(err.code, 'SOURCE');
    assert.match(err.message, /password authentication failed/);
    assert.match(err.message, /127\.0\.0\.1/);
    assert.doesNotMatch(err.message, /wrong-password/);
    return true;
  });
  await assert.rejects(backupPostgresLogical(repo, { conn: `host=${dir} port=1 user=postgres dbname=postgres` }), (err: unknown) => {
    assert.ok(err instanceof LifeboatError && err.code === 'SOURCE');
    assert.match(err.message, /port=1/);
    return true;
  });
  await assert.rejects(backupPostgresLogical(repo, { conn: pg.conn('no_such_db') }), /no_such_db/);
  assert.equal((await loadSnapshots(repo)).length, 0);
  // The right password works.
  const ok = await backupPostgresLogical(repo, { conn: pg.uri('postgres') });
  assert.equal((ok.snapshot.source as LogicalSource).database.name, 'postgres');
  assert.doesNotMatch(JSON.stringify(ok.snapshot), /pg-secret/);
});

test('logical backup over TCP with a password: the password is in no child\'s arguments, and it works', async (t) => {
  const dir = await tempDir(t);
  const pg = await PgCluster.create(t, join(dir, 'pg'), { password: 'sekret-pw-42' });
  await pg.sql('CREATE DATABASE shop');
  await pg.script('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g;', 'shop');
  // Every PostgreSQL tool Lifeboat runs goes through a wrapper that records its arguments (what `ps` and
  // /proc/PID/cmdline show every user) and whether it got the password another way.
  const bin = join(dir, 'bin');
  const log = join(dir, 'argv.log');
  mkdirSync(bin);
  for (const tool of ['psql', 'pg_dump', 'pg_dumpall', 'pg_restore']) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $* PGPASSWORD=\${PGPASSWORD:+set}" >> ${log}\nexec ${join(pg.bin, tool)} "$@"\n`, { mode: 0o755 });
  }
  const old = process.env['LIFEBOAT_PG_BINDIR'];
  process.env['LIFEBOAT_PG_BINDIR'] = bin;
  t.after(() => {
    if (old === undefined) delete process.env['LIFEBOAT_PG_BINDIR'];
    else process.env['LIFEBOAT_PG_BINDIR'] = old;
  });
  const repo = await newRepo(dir);
  const uri = pg.uri('shop');
  assert.match(uri, /sekret-pw-42/);
  await backupPostgresLogical(repo, { conn: uri });
  await pg.sql('DROP TABLE t', 'shop');
  const [snap] = await loadSnapshots(repo);
  await restorePostgresLogical(repo, snap!, { conn: `host=127.0.0.1 port=${pg.port} user=postgres dbname=shop password=sekret-pw-42`, tables: ['t'] });
  assert.equal(await pg.sql('SELECT count(*) FROM t', 'shop'), '500');
  const calls = readFileSync(log, 'utf8');
  assert.ok(calls.split('\n').filter(Boolean).length >= 3, calls);
  assert.doesNotMatch(calls, /sekret-pw-42/);
  assert.match(calls, /PGPASSWORD=set/);
});
