/**
 * replication: a group's members carried continuously to a hot site. The primary writes checkpoints into
 * the hot site's journal (a repository it reaches over HTTPS: repo/backend/rest); the hot site keeps a
 * replica folder of each files member equal to the newest checkpoint (applier). Stands on sources and jobs.
 */
export { applyTree } from './applier.ts';
export type { ApplyOptions, ApplyResult } from './applier.ts';
export { CHECKPOINT_TAG, Sender } from './sender.ts';
export type { CheckpointRecord, FilesMember, SenderOptions } from './sender.ts';
export { JournalHost, ReplicaKeeper } from './journal.ts';
export type { JournalSpec, KeeperState } from './journal.ts';
export { isCheckpoint, listCheckpoints, openJournal } from './checkpoints.ts';
