/**
 * The `files` source: directory trees, with every kind of entry and its metadata.
 * Backup (archiver), restore (restorer), and the file system metadata layer they share (fsmeta).
 */
export { backupFiles, captureOptions, normalizePaths, newProgress, prestartBackupWorkers, PROGRAM_VERSION } from './archiver.ts';
export type { BackupOptions, BackupResult, BackupProgress, BackupWarning, CaptureOptions } from './archiver.ts';
export { restoreFiles, newRestoreProgress } from './restorer.ts';
export { prestartRestoreWorkers } from './restore-pool.ts';
export type { RestoreOptions, RestoreResult, RestoreProgress, RestoreWarning } from './restorer.ts';
export { readMeta, applyMeta, createSpecial, metaEqual, formatTime, parseTime } from './fsmeta.ts';
export type { EntryMeta, EntryType } from './fsmeta.ts';
export { compileExcludes, readExcludeFile } from './exclude.ts';
export { metaToNode, nodeToMeta } from './node.ts';
export { scanTotals } from './scan.ts';
export type { ScanTotals } from './scan.ts';
