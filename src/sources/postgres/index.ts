/**
 * The `postgres` source: PostgreSQL protected with its own tools. Logical backups (pg_dump, restore of a
 * database, schema or table), physical base backups with continuous WAL archiving into the repository,
 * and point-in-time recovery to a time, an LSN or a named restore point.
 */
export { backupPostgresLogical, restorePostgresLogical, logicalSource, dumpPath } from './logical.ts';
export type { LogicalBackupOptions, LogicalRestoreOptions, LogicalRestoreResult, LogicalSource } from './logical.ts';
export type { DatabaseInfo, TableInfo } from './catalog.ts';
export { redactConn, pgTool } from './pgtools.ts';
