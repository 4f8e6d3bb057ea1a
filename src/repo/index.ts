/**
 * The storage engine: an encrypted, deduplicated, content-addressed store of recovery points.
 * Layers, bottom up: backend (files) → crypto/compress/pack (blobs in packs) → blob index → trees →
 * snapshots; locks, check and prune work across them. See docs/repository-format.md for the bytes.
 */
export { Repository, mapLimit, decodeBlob, newBlobScratch, REPO_VERSION } from './repository.ts';
export type { BlobScratch } from './repository.ts';
export type { RepoConfig, InitOptions, OpenOptions } from './repository.ts';
export { BlobWriter } from './blob-writer.ts';
export { PackReaders } from './pack-readers.ts';
export type { WriterStats, BlobWriterOptions } from './blob-writer.ts';
export { BlobIndex } from './blob-index.ts';
export type { BlobLocation, IndexFileJson } from './blob-index.ts';
export { Chunker } from './chunker.ts';
export type { ChunkerParams } from './chunker.ts';
export { compressBlob, decompressBlob, Compression } from './compress.ts';
export { seal, open, blobId, aad, newMasterKey, SEAL_OVERHEAD } from './crypto.ts';
export type { MasterKey } from './crypto.ts';
export { listKeys, removeKey } from './keys.ts';
export type { KeyCache, KeyInfo } from './keys.ts';
export { defaultKdf, prederive } from './kdf.ts';
export type { KdfParams } from './kdf.ts';
export type { BlobType, PackedBlob } from './pack.ts';
export { encodeTree, compareUtf8, decodeTree, loadTree, validName, nodeProblem, treeProblems, walkTree, findNode } from './tree.ts';
export type { Tree, TreeNode, NodeType, WalkEntry } from './tree.ts';
export { saveSnapshot, loadSnapshots, resolveSnapshot, matchesFilter, shortId } from './snapshot.ts';
export type { Snapshot, SnapshotEntry, SnapshotSummary, SnapshotFilter, HookRun } from './snapshot.ts';
export { Lock, listLocks, removeLocks, isStale } from './lock.ts';
export type { LockEntry } from './lock.ts';
export { checkRepository, prestartVerifyWorkers } from './check.ts';
export type { CheckOptions, CheckProblem, CheckResult } from './check.ts';
export { prune, forget } from './prune.ts';
export type { PruneOptions, PruneResult, ForgetOptions, ForgetResult, ForgetGroup } from './prune.ts';
export { applyPolicy, groupSnapshots, parseDuration, policyIsEmpty } from './retention.ts';
export type { RetentionPolicy, GroupBy } from './retention.ts';
export { diffSnapshots, repoStats } from './browse.ts';
export type { DiffEntry, DiffResult, RepoStats, ChangeKind } from './browse.ts';
export { adoptPacks, rebuildIndex, readPackHeader } from './repair.ts';
export type { AdoptResult, RebuildResult, RebuildOptions } from './repair.ts';
export { repairSnapshots } from './repair-snapshots.ts';
export type { RepairSnapshotsOptions, RepairSnapshotsResult, RepairedSnapshot, LostEntry } from './repair-snapshots.ts';
