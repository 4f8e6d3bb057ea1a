/**
 * The checkpoints a journal holds for a group, oldest first: each a snapshot that can be restored like any
 * other (one file, one folder, the whole member), which is what makes the hot site's journal a backup
 * history as well.
 */
import { LifeboatError } from '../core/index.ts';
import { LocalBackend } from '../repo/backend/index.ts';
import { loadSnapshots, Repository, type SnapshotEntry } from '../repo/index.ts';
import type { JournalSpec } from './journal.ts';
import { CHECKPOINT_TAG } from './sender.ts';

export function isCheckpoint(s: Pick<SnapshotEntry, 'tags'>): boolean {
  return s.tags?.includes(CHECKPOINT_TAG) === true;
}

/** Opens a journal this site keeps (with the group repository's password it shares). */
export async function openJournal(j: JournalSpec, signal?: AbortSignal): Promise<Repository> {
  const backend = new LocalBackend(j.path);
  try {
    return await Repository.open(backend, j.password.value, signal ? { signal } : {});
  } catch (err) {
    await backend.close();
    if (err instanceof LifeboatError && err.code === 'REPO_NOT_FOUND') {
      throw new LifeboatError('NOT_FOUND', `no journal of ${j.group} at ${j.path} yet`, { hint: 'the primary makes it with its first checkpoint: check its `replicate:` and that it reaches this site', cause: err });
    }
    throw err;
  }
}

export async function listCheckpoints(repo: Repository, group: string, signal?: AbortSignal): Promise<SnapshotEntry[]> {
  return (await loadSnapshots(repo, signal ? { signal } : {})).filter((s) => s.group === group && isCheckpoint(s));
}
