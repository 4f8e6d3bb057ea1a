/**
 * String order by UTF-16 code units: what ids, ISO times and names sort by here. Not `localeCompare`: it
 * orders by locale rules, and its first call loads ICU's collation data, ~20 ms of every command that
 * lists snapshots (bench machine, 2026-11-30).
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
