/**
 * Choosing entries of a dump's table of contents (`pg_restore -l`) for a partial restore. pg_restore's own
 * `-t` takes a table's definition and data but none of its indexes, constraints or triggers; Lifeboat
 * instead writes a list file (`-L`) naming every entry that belongs to the table, matched by the names the
 * catalog gave at backup time.
 *
 * A listing line is `<dumpId>; <tableoid> <oid> <TYPE> <schema> <tag> <owner>`; TYPE may hold spaces
 * (TABLE DATA, FK CONSTRAINT, SEQUENCE OWNED BY), the tag too (a constraint's tag is `<table> <name>`), so
 * lines are matched against the exact `TYPE schema tag ` prefixes we expect rather than split on spaces.
 */
import type { TableInfo } from './catalog.ts';

export interface TocEntry {
  line: string;
  /** Its place in the listing: pg_dump's order, in which every object comes after what it depends on. */
  pos: number;
  dumpId: number;
  /** Everything after the two oids: `TYPE schema tag owner`. */
  desc: string;
}

export function parseToc(listing: string): TocEntry[] {
  const out: TocEntry[] = [];
  for (const line of listing.split('\n')) {
    const m = /^(\d+); \d+ \d+ (.*)$/.exec(line);
    if (m) out.push({ line, pos: out.length, dumpId: Number(m[1]), desc: m[2]! });
  }
  return out;
}

export type TablePart = 'definition' | 'data' | 'foreign-keys';

/** The `TYPE schema tag` keys of one table's entries. */
export function tableKeys(t: TableInfo, parts: ReadonlySet<TablePart>): string[] {
  const s = t.schema;
  const n = t.name;
  const keys: string[] = [];
  if (parts.has('definition')) {
    keys.push(`TABLE ${s} ${n}`, `COMMENT ${s} TABLE ${n}`, `ACL ${s} TABLE ${n}`, `ROW SECURITY ${s} ${n}`);
    for (const i of t.indexes) keys.push(`INDEX ${s} ${i}`, `COMMENT ${s} INDEX ${i}`);
    for (const c of t.constraints) {
      if (c.type !== 'f') keys.push(`CONSTRAINT ${s} ${n} ${c.name}`, `CHECK CONSTRAINT ${s} ${n} ${c.name}`);
      keys.push(`COMMENT ${s} CONSTRAINT ${c.name} ON ${n}`);
    }
    for (const tg of t.triggers) keys.push(`TRIGGER ${s} ${n} ${tg}`, `COMMENT ${s} TRIGGER ${tg} ON ${n}`);
    for (const r of t.rules) keys.push(`RULE ${s} ${n} ${r}`, `COMMENT ${s} RULE ${r} ON ${n}`);
    for (const p of t.policies) keys.push(`POLICY ${s} ${n} ${p}`, `COMMENT ${s} POLICY ${p} ON ${n}`);
    for (const q of t.sequences) keys.push(`SEQUENCE ${s} ${q}`, `SEQUENCE OWNED BY ${s} ${q}`, `ACL ${s} SEQUENCE ${q}`, `COMMENT ${s} SEQUENCE ${q}`);
    for (const x of t.statistics) keys.push(`STATISTICS ${s} ${x}`);
    for (const col of t.columns_with_defaults) keys.push(`DEFAULT ${s} ${n} ${col}`);
  }
  if (parts.has('data')) {
    keys.push(`TABLE DATA ${s} ${n}`);
    for (const q of t.sequences) keys.push(`SEQUENCE SET ${s} ${q}`);
  }
  if (parts.has('foreign-keys')) for (const c of t.constraints) if (c.type === 'f') keys.push(`FK CONSTRAINT ${s} ${n} ${c.name}`);
  return keys;
}

/** A partition's attachment to its parent, and its indexes' to the parent's indexes. */
export function attachKeys(t: TableInfo): string[] {
  return [`TABLE ATTACH ${t.schema} ${t.name}`, ...t.indexes.map((i) => `INDEX ATTACH ${t.schema} ${i}`)];
}

/** Entries whose description starts with one of `keys` followed by the owner (or ends there). */
export function selectEntries(entries: TocEntry[], keys: readonly string[]): TocEntry[] {
  const set = new Set(keys);
  return entries.filter((e) => {
    if (set.has(e.desc)) return true;
    // Strip the owner (the last word; role names with spaces are not supported here) and compare.
    const sp = e.desc.lastIndexOf(' ');
    return sp > 0 && set.has(e.desc.slice(0, sp));
  });
}

/** Column comments are tagged `COLUMN table.col`: every one of the table's. */
export function columnComments(entries: TocEntry[], t: TableInfo): TocEntry[] {
  const prefix = `COMMENT ${t.schema} COLUMN ${t.name}.`;
  return entries.filter((e) => e.desc.startsWith(prefix));
}
