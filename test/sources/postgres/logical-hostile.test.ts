/**
 * Logical restores that went wrong while reporting success, against a real cluster: a partitioned table
 * comes back with its partitions, attachments and rows; tables in an odd-named schema and a parent/child
 * pair dropped together restore (entries run in dump order); a whole-database --replace that fails leaves
 * the database as it was; names fold as in SQL; large objects are said to be left out. Checked by row
 * checksums.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { LifeboatError } from '../../../src/core/index.ts';
import { loadSnapshots } from '../../../src/repo/index.ts';
import { backupPostgresLogical, restorePostgresLogical } from '../../../src/sources/postgres/index.ts';
import { pgTool } from '../../../src/sources/postgres/pgtools.ts';
import { PgCluster } from '../../helpers/postgres.ts';
import { newRepo, tempDir } from '../../helpers/repo.ts';

const schema = `
CREATE TABLE meas (id int NOT NULL, at date NOT NULL, v numeric NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE meas_2025 PARTITION OF meas FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE meas_2026 PARTITION OF meas FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX meas_v ON meas (v);
INSERT INTO meas SELECT g, '2025-01-01'::date + (g % 700), g * 1.5 FROM generate_series(1, 1000) g;
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."tbl ü ñ" (id int PRIMARY KEY, t text);
INSERT INTO "Odd Schema"."tbl ü ñ" SELECT g, 'row ' || g FROM generate_series(1, 50) g;
CREATE TABLE parent (id int PRIMARY KEY, name text);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id), x text);
INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 100) g;
INSERT INTO child SELECT g, 1 + g % 100, 'c' || g FROM generate_series(1, 300) g;
CREATE TABLE "Upper" (id int PRIMARY KEY);
CREATE TABLE upper (id int PRIMARY KEY);
INSERT INTO "Upper" VALUES (1), (2);
INSERT INTO upper VALUES (1);
CREATE TABLE docs (id int PRIMARY KEY, body oid);
INSERT INTO docs VALUES (1, lo_from_bytea(0, 'hello'));
`;

async function sum(pg: PgCluster, table: string, db = 'shop'): Promise<string> {
  return pg.sql(`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ${table} t`, db);
}

test('logical restores of partitions, odd schemas, parent and child, atomic replace, SQL name folding', async (t) => {
  const dir = await tempDir(t);
  const pg = await PgCluster.create(t, join(dir, 'pg'));
  await pg.sql('CREATE DATABASE shop');
  await pg.script(schema, 'shop');
  const repo = await newRepo(dir);
  const before = {
    meas: await sum(pg, 'meas'),
    m25: await sum(pg, 'meas_2025'),
    odd: await sum(pg, '"Odd Schema"."tbl ü ñ"'),
    parent: await sum(pg, 'parent'),
    child: await sum(pg, 'child'),
  };
  await backupPostgresLogical(repo, { conn: pg.conn('shop') });
  const [snap] = await loadSnapshots(repo);
  const restore = (o: Partial<Parameters<typeof restorePostgresLogical>[2]>) => restorePostgresLogical(repo, snap!, { conn: pg.conn('shop'), ...o });

  // A partitioned table: its partitions, their attachment and every row come back.
  await pg.sql('DROP TABLE meas', 'shop');
  const r1 = await restore({ tables: ['meas'] });
  assert.deepEqual(r1.tables.map((x) => x.name).sort(), ['meas', 'meas_2025', 'meas_2026']);
  assert.equal(await sum(pg, 'meas'), before.meas);
  assert.equal(await pg.sql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'meas'::regclass", 'shop'), '2');
  // One partition alone goes back into its parent.
  await pg.sql('DROP TABLE meas_2025', 'shop');
  await restore({ tables: ['meas_2025'] });
  assert.equal(await sum(pg, 'meas'), before.meas);
  assert.equal(await pg.sql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'meas'::regclass", 'shop'), '2');

  // A table in an odd-named schema, into a database without that schema.
  await pg.sql('DROP SCHEMA "Odd Schema" CASCADE', 'shop');
  await restore({ tables: ['"Odd Schema"."tbl ü ñ"'] });
  assert.equal(await sum(pg, '"Odd Schema"."tbl ü ñ"'), before.odd);

  // Parent and child dropped together come back together, with the key between them.
  await pg.sql('DROP TABLE parent, child CASCADE', 'shop');
  await restore({ tables: ['child', 'parent'] });
  assert.equal(await sum(pg, 'parent'), before.parent);
  assert.equal(await sum(pg, 'child'), before.child);
  assert.equal(await pg.sql("SELECT count(*) FROM pg_constraint WHERE conrelid = 'child'::regclass AND contype = 'f'", 'shop'), '1');

  // A whole schema into a new database: the partitioned table with its rows.
  await pg.sql('CREATE DATABASE fresh');
  await restorePostgresLogical(repo, snap!, { conn: pg.conn('fresh'), schemas: ['public'] });
  assert.equal(await sum(pg, 'meas', 'fresh'), before.meas);
  // The same schema over itself with --replace (partitioned indexes are attached, not recreated twice).
  await pg.sql('DELETE FROM meas WHERE id <= 10; DELETE FROM child', 'shop');
  await restore({ schemas: ['public'], replace: true });
  assert.equal(await sum(pg, 'meas'), before.meas);
  assert.equal(await sum(pg, 'child'), before.child);
  assert.equal(await pg.sql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'meas_v'::regclass", 'shop'), '2');
  // A partition made after the backup is not dropped with its parent: kept beside it, and said.
  await pg.sql("CREATE TABLE meas_2027 PARTITION OF meas FOR VALUES FROM ('2027-01-01') TO ('2028-01-01'); INSERT INTO meas VALUES (5000, '2027-03-01', 1)", 'shop');
  const r0 = await restore({ tables: ['meas'], replace: true });
  assert.equal(await sum(pg, 'meas'), before.meas);
  assert.equal(await pg.sql('SELECT count(*) FROM meas_2027', 'shop'), '1');
  assert.match(r0.notes?.join('\n') ?? '', /meas_2027 .*kept/);
  await pg.sql('DROP TABLE meas_2027', 'shop');

  // A whole-database --replace that cannot succeed (an object outside the dump depends on one in it)
  // leaves the database exactly as it was.
  await pg.sql('CREATE TABLE outsider (id int PRIMARY KEY, p int REFERENCES parent (id)); INSERT INTO outsider VALUES (1, 1);', 'shop');
  const shape = async (): Promise<string> =>
    pg.sql(`SELECT (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public') || ' ' || (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public') || ' ' || (SELECT count(*) FROM outsider)`, 'shop');
  const shapeBefore = await shape();
  await assert.rejects(restore({ replace: true }), (e: unknown) => e instanceof LifeboatError && e.code === 'DATABASE');
  assert.equal(await shape(), shapeBefore);
  assert.equal(await sum(pg, 'parent'), before.parent);

  // Names fold as in SQL: Upper is upper; "Upper" is the other table.
  await pg.sql('DROP TABLE upper; DROP TABLE "Upper"', 'shop');
  await restore({ tables: ['Upper'] });
  assert.equal(await pg.sql('SELECT count(*) FROM upper', 'shop'), '1');
  assert.equal(await pg.sql(`SELECT to_regclass('"Upper"') IS NULL`, 'shop'), 't');
  await restore({ tables: ['"Upper"'] });
  assert.equal(await pg.sql('SELECT count(*) FROM "Upper"', 'shop'), '2');

  // --as: 63 bytes, not characters; a 63-byte name does not collide with its own index names.
  const long = 'x'.repeat(63);
  const r2 = await restore({ tables: ['parent'], as: long });
  assert.equal(r2.tables[0]!.as, long);
  assert.equal(await pg.sql(`SELECT count(*) FROM ${long}`, 'shop'), '100');
  await assert.rejects(restore({ tables: ['parent'], as: 'é'.repeat(32) }), { code: 'USAGE', message: /63 bytes/ });

  // Large objects are not brought back by a table restore: said so.
  await pg.sql('DROP TABLE docs', 'shop');
  const r3 = await restore({ tables: ['docs'] });
  assert.match(r3.notes?.join('\n') ?? '', /large object/);
});

test('a --replace whose pg_restore dies half-way through its script changes nothing', async (t) => {
  const dir = await tempDir(t);
  const pg = await PgCluster.create(t, join(dir, 'pg'));
  await pg.sql('CREATE DATABASE shop');
  await pg.script(schema, 'shop');
  const repo = await newRepo(dir);
  await backupPostgresLogical(repo, { conn: pg.conn('shop') });
  const [snap] = await loadSnapshots(repo);
  await pg.sql("DELETE FROM child WHERE id > 150; UPDATE parent SET name = 'changed'", 'shop');
  const parentSum = await sum(pg, 'parent');
  const childSum = await sum(pg, 'child');
  // Fault injection: a dump that cannot be read whole (one table's data file gone), so pg_restore dies
  // half-way, after its drops and creates, whether it runs the SQL itself or writes a script for psql.
  const real = dirname(pgTool('pg_restore'));
  const fake = join(dir, 'bin');
  mkdirSync(fake);
  for (const tool of readdirSync(real)) if (tool !== 'pg_restore') symlinkSync(join(real, tool), join(fake, tool));
  const script = [
    '#!/bin/bash',
    `real=${JSON.stringify(real)}`,
    'case " $* " in *" -l "*) exec "$real/pg_restore" "$@";; esac',
    'dump="${@: -1}"',
    'id=$("$real/pg_restore" -l "$dump" | sed -n "s/^\\([0-9]*\\);.* TABLE DATA public parent .*/\\1/p")',
    'bad=$(mktemp -d)',
    'cp -r "$dump"/. "$bad" && rm -f "$bad/$id".dat*',
    '"$real/pg_restore" "${@:1:$#-1}" "$bad"; rc=$?',
    'rm -rf "$bad"',
    'exit $rc',
  ];
  writeFileSync(join(fake, 'pg_restore'), script.join('\n') + '\n', { mode: 0o755 });
  process.env['LIFEBOAT_PG_BINDIR'] = fake;
  t.after(() => delete process.env['LIFEBOAT_PG_BINDIR']);
  for (const o of [{ replace: true }, { tables: ['parent', 'child'], replace: true }]) {
    await assert.rejects(restorePostgresLogical(repo, snap!, { conn: pg.conn('shop'), ...o }), (e: unknown) => e instanceof LifeboatError && /nothing was changed/.test(e.message) && /could not open/.test(e.message));
    assert.equal(await sum(pg, 'parent'), parentSum);
    assert.equal(await sum(pg, 'child'), childSum);
    assert.equal(await pg.sql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'meas'::regclass", 'shop'), '2');
  }
  delete process.env['LIFEBOAT_PG_BINDIR'];
  await restorePostgresLogical(repo, snap!, { conn: pg.conn('shop'), replace: true });
  assert.equal(await pg.sql('SELECT count(*) FROM child', 'shop'), '300');
});
