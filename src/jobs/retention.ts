/**
 * Retention of a protection group: its policy applied to the group's own snapshots only (grouped by host
 * and paths as `forget` does, so each member keeps its own history), after each backup. Snapshots are
 * forgotten, not pruned: prune rewrites packs under an exclusive lock and is a maintenance job of its own.
 */
import { forget, policyIsEmpty, type ForgetResult, type Repository, type RetentionPolicy } from '../repo/index.ts';

export async function applyRetention(repo: Repository, group: string, policy: RetentionPolicy, opts: { signal?: AbortSignal; dryRun?: boolean } = {}): Promise<ForgetResult | undefined> {
  if (policyIsEmpty(policy)) return undefined;
  return forget(repo, policy, { filter: { group }, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.dryRun ? { dryRun: true } : {}) });
}
