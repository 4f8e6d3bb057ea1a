/**
 * The `postgres` source: PostgreSQL protected with its own tools. Logical backups (pg_dump, restore of a
 * database, schema or table), physical base backups with continuous WAL archiving into the repository,
 * and point-in-time recovery to a time, an LSN or a named restore point.
 */
export { backupPostgresLogical, restorePostgresLogical, logicalSource, dumpPath } from './logical.ts';
export type { LogicalBackupOptions, LogicalRestoreOptions, LogicalRestoreResult, LogicalSource } from './logical.ts';
export type { DatabaseInfo, TableInfo } from './catalog.ts';
export { redactConn, pgTool } from './pgtools.ts';
export { backupPostgresPhysical, physicalSource, dataDirExcludes } from './physical.ts';
export type { PhysicalBackupOptions, PhysicalSource } from './physical.ts';
export { restorePostgresCluster, archiveRange, archiveEnd, baseBackups, parseTime, formatTime, checkWalArchive, pruneWal } from './pitr.ts';
export type { PitrOptions, PitrResult, ArchiveRange, RecoveryTarget, WalArchiveHealth } from './pitr.ts';
export { findTables } from './logical.ts';
export {
  pushWal,
  fetchWal,
  listWal,
  listArchivedClusters,
  findGaps,
  removeWalBefore,
  systemIdentifier,
  isWalFileName,
  parseLsn,
  formatLsn,
} from './wal.ts';
export type { PushOutcome, ArchivedWal, WalGap } from './wal.ts';
