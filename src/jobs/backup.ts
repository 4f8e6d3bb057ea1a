/**
 * A backup job: the members of a protection group (or the one thing `lifeboat backup` names), one snapshot
 * each, between the group's hooks: the pre hook runs once before the first member is read, the post hook
 * once after the last member's data is stored (before its snapshot is saved, so the snapshot records it).
 * A member that fails does not stop the others (a database down must not cost the files their snapshot),
 * except when the job is cancelled. The outcome says, once for every caller, whether the job is complete:
 *   ok       every member saved with everything
 *   partial  every member saved, but some files could not be read whole, or the post hook failed
 *   failed   some member has no snapshot (the others' are saved and listed)
 */
import { isLifeboatError, LifeboatError, throwIfAborted } from '../core/index.ts';
import type { Repository, Snapshot } from '../repo/index.ts';
import { captureMember, describeMember, type CaptureRequest, type MemberSpec } from '../sources/index.ts';
import type { BackupProgress, BackupResult, BackupWarning } from '../sources/files/index.ts';
import { postHookFailed, withHooks, type HookSpec, type HooksRan } from '../sources/hooks/index.ts';

/** Warnings that mean the snapshot misses or may misrepresent a file. */
const INCOMPLETE: ReadonlySet<BackupWarning['kind']> = new Set(['unreadable', 'vanished', 'changed']);

export interface BackupJobOptions {
  members: MemberSpec[];
  /** Recorded in every snapshot (`group`) and used by retention to find the group's snapshots. */
  group?: string;
  tags?: string[];
  hostname?: string;
  hooks?: HookSpec;
  /** Files: a parent for the (single) files member; see CaptureRequest. */
  parent?: CaptureRequest['parent'];
  spool?: string;
  signal?: AbortSignal;
  progress?: BackupProgress;
  onWarning?: (w: BackupWarning, member: MemberSpec) => void;
  /** A member starts (for logs and progress). */
  onMember?: (member: MemberSpec, index: number) => void;
}

export interface MemberOutcome {
  member: string;
  /** Saved: the snapshot; failed: the error. */
  result?: BackupResult;
  error?: LifeboatError;
  /** Files the snapshot misses or may misrepresent. */
  incomplete: number;
}

export interface BackupJobResult {
  status: 'ok' | 'partial' | 'failed';
  members: MemberOutcome[];
  hooks: HooksRan;
  /** Why the status is not ok, one line each. */
  problems: string[];
  /** New data stored by all members (bytes before compression). */
  bytesAdded: number;
}

function asLifeboatError(err: unknown): LifeboatError {
  return isLifeboatError(err) ? err : new LifeboatError('INTERNAL', (err as Error)?.message ?? String(err), { cause: err });
}

/** Thrown inside the hooks so the post hook learns the job failed; carries what was saved. */
class MembersFailed extends Error {
  constructor(readonly outcomes: MemberOutcome[]) {
    super('some members failed');
  }
}

/**
 * Runs a backup job. Throws only when nothing could start (the pre hook failed, the job was cancelled
 * before the first snapshot was saved, no members): otherwise the result says what was saved.
 */
export async function runBackup(repo: Repository, opts: BackupJobOptions): Promise<BackupJobResult> {
  if (opts.members.length === 0) throw new LifeboatError('USAGE', 'nothing to back up: no members');
  const outcomes: MemberOutcome[] = [];
  const ran: HooksRan = {};
  let cancelled: unknown;
  try {
    await withHooks({ ...opts.hooks, ...(opts.signal ? { signal: opts.signal } : {}) }, async (finalizeHooks) => {
      const last = opts.members.length - 1;
      for (const [i, member] of opts.members.entries()) {
        throwIfAborted(opts.signal);
        opts.onMember?.(member, i);
        let incomplete = 0;
        const finalize = async (snap: Snapshot): Promise<void> => {
          if (opts.group !== undefined) snap.group = opts.group;
          if (i === last) await finalizeHooks(snap);
        };
        try {
          const result = await captureMember(repo, member, {
            ...(opts.tags?.length ? { tags: opts.tags } : {}),
            ...(opts.hostname ? { hostname: opts.hostname } : {}),
            ...(opts.parent !== undefined && member.kind === 'files' ? { parent: opts.parent } : {}),
            ...(opts.spool ? { spool: opts.spool } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
            ...(opts.progress ? { progress: opts.progress } : {}),
            onWarning: (w) => {
              if (INCOMPLETE.has(w.kind)) incomplete++;
              opts.onWarning?.(w, member);
            },
            finalize,
          });
          outcomes.push({ member: describeMember(member), result, incomplete });
        } catch (err) {
          if (opts.signal?.aborted) {
            cancelled = err;
            throw err;
          }
          outcomes.push({ member: describeMember(member), error: asLifeboatError(err), incomplete });
        }
      }
      if (outcomes.some((o) => o.error)) throw new MembersFailed(outcomes);
      return outcomes;
    }, ran);
  } catch (err) {
    if (!(err instanceof MembersFailed)) {
      // Cancelled, or the pre hook failed: nothing more to report than the error, unless something was saved.
      if (outcomes.length === 0 || !cancelled) throw err;
      outcomes.push({ member: 'cancelled', error: asLifeboatError(cancelled), incomplete: 0 });
    }
  }
  const problems: string[] = [];
  for (const o of outcomes) {
    if (o.error) problems.push(`${o.member}: ${o.error.message}`);
    else if (o.incomplete) problems.push(`${o.member}: ${o.incomplete} file(s) could not be read completely`);
  }
  if (postHookFailed(ran)) problems.push(`the post hook failed (${ran.post?.error ?? 'unknown'})`);
  const status = outcomes.some((o) => o.error) ? 'failed' : problems.length ? 'partial' : 'ok';
  const bytesAdded = outcomes.reduce((a, o) => a + (o.result?.snapshot.summary?.data_added ?? 0), 0);
  return { status, members: outcomes, hooks: ran, problems, bytesAdded };
}
