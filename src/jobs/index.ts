/**
 * Jobs: what users ask for, as library calls that the CLI and the daemon both make (one code path): back
 * up a group's members between its hooks and say whether the result is complete, check, apply retention,
 * and what restores need beyond one source.
 */
export { runBackup } from './backup.ts';
export type { BackupJobOptions, BackupJobResult, MemberOutcome } from './backup.ts';
export { runCheck, parseSubset } from './check.ts';
export type { CheckJobResult } from './check.ts';
export { applyRetention } from './retention.ts';
export { restoreSnapshotFiles, selfCommand, shq, walRestoreCommand } from './restore.ts';
