/**
 * What a PostgreSQL database holds, read from its catalog: server version, and per table its size and
 * the objects that belong to it (indexes, constraints, triggers, owned sequences...). The snapshot keeps
 * this, so `lifeboat ls` lists tables and a single-table restore knows which entries of the dump to take.
 */
import { asJsonArray, type PsqlSession } from './pgtools.ts';

export interface TableInfo {
  schema: string;
  name: string;
  /** Rows in the dump (counted from its data file). */
  rows?: number;
  /** Bytes on disk with indexes and TOAST (pg_total_relation_size). */
  bytes: number;
  /** The dump's TOC entry holding its data. */
  dump_id?: number;
  indexes: string[];
  /** Type is pg_constraint.contype (p, u, c, f, x, t); a foreign key names the table it references. */
  constraints: Array<{ name: string; type: string; definition: string; ref_schema?: string; ref_table?: string }>;
  triggers: string[];
  rules: string[];
  policies: string[];
  sequences: string[];
  statistics: string[];
  columns_with_defaults: string[];
  row_security: boolean;
  /** A partition: the table it is attached to. */
  partition_of?: { schema: string; name: string };
  /** A partitioned table: its partitions (each may be partitioned in turn). */
  partitions?: Array<{ schema: string; name: string }>;
}

export interface DatabaseInfo {
  name: string;
  server_version: string;
  server_version_num: number;
  encoding: string;
  bytes: number;
  tables: TableInfo[];
}

const tablesSql = `
SELECT n.nspname AS schema, c.relname AS name, pg_total_relation_size(c.oid) AS bytes,
  c.relrowsecurity AS row_security,
  ARRAY(SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid ORDER BY 1) AS indexes,
  coalesce((SELECT json_agg(json_strip_nulls(json_build_object('name', co.conname, 'type', co.contype, 'definition', pg_get_constraintdef(co.oid, true),
       'ref_schema', rn.nspname, 'ref_table', rc.relname)) ORDER BY co.conname)
     FROM pg_constraint co LEFT JOIN pg_class rc ON rc.oid = co.confrelid LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
     WHERE co.conrelid = c.oid), '[]'::json) AS constraints,
  ARRAY(SELECT tgname FROM pg_trigger WHERE tgrelid = c.oid AND NOT tgisinternal ORDER BY 1) AS triggers,
  ARRAY(SELECT rulename FROM pg_rewrite WHERE ev_class = c.oid AND rulename <> '_RETURN' ORDER BY 1) AS rules,
  ARRAY(SELECT polname FROM pg_policy WHERE polrelid = c.oid ORDER BY 1) AS policies,
  ARRAY(SELECT s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
          AND s.relkind = 'S' AND d.deptype IN ('a', 'i') ORDER BY 1) AS sequences,
  ARRAY(SELECT stxname FROM pg_statistic_ext WHERE stxrelid = c.oid ORDER BY 1) AS statistics,
  ARRAY(SELECT a.attname FROM pg_attrdef ad JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
        WHERE ad.adrelid = c.oid AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY 1) AS columns_with_defaults,
  (SELECT json_build_object('schema', pn.nspname, 'name', pc.relname) FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
     JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition) AS partition_of,
  (SELECT json_agg(json_build_object('schema', kn.nspname, 'name', kc.relname) ORDER BY kn.nspname, kc.relname) FROM pg_inherits i
     JOIN pg_class kc ON kc.oid = i.inhrelid JOIN pg_namespace kn ON kn.oid = kc.relnamespace WHERE i.inhparent = c.oid AND c.relkind = 'p') AS partitions
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = c.oid AND e.deptype = 'e')
ORDER BY 1, 2`;

/** Describe the session's database (inside its transaction, so it matches a dump taken with the same snapshot). */
export async function describeDatabase(s: PsqlSession): Promise<DatabaseInfo> {
  const head = JSON.parse(
    await s.query(`SELECT json_build_object('name', current_database(), 'server_version', current_setting('server_version'),
      'server_version_num', current_setting('server_version_num')::int, 'encoding', pg_encoding_to_char(encoding),
      'bytes', pg_database_size(current_database())) FROM pg_database WHERE datname = current_database()`),
  ) as Omit<DatabaseInfo, 'tables'>;
  const tables = JSON.parse(await s.query(asJsonArray(tablesSql))) as TableInfo[];
  for (const t of tables) {
    if (t.partition_of == null) delete t.partition_of;
    if (t.partitions == null) delete t.partitions;
  }
  return { ...head, tables };
}

/**
 * `schema.table` as users write it in SQL: a name without a schema means `public`; an unquoted name is
 * folded to lower case, a quoted one ("Upper") is taken as it is.
 */
export function parseTableName(spec: string): { schema: string; name: string } {
  const m = /^(?:("(?:[^"]|"")+"|[^."]+)\.)?("(?:[^"]|"")+"|[^."]+)$/.exec(spec.trim());
  if (!m) return { schema: '', name: '' };
  const unq = (s: string): string => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s.toLowerCase());
  return { schema: m[1] ? unq(m[1]) : 'public', name: unq(m[2]!) };
}
