/**
 * A check job: the repository's structure (and a share of its data, or all of it) and the WAL archives in
 * it. One call for `lifeboat check` and for the daemon's scheduled checks.
 */
import { checkRepository, Lock, type CheckOptions, type CheckResult, type Repository } from '../repo/index.ts';
import { checkWalArchive, type WalArchiveHealth } from '../sources/postgres/index.ts';

export interface CheckJobResult {
  repository: CheckResult;
  wal: WalArchiveHealth[];
  /** Damage found in the repository or a gap or damaged file in a WAL archive. */
  ok: boolean;
  /** One line per problem. */
  problems: string[];
}

/** Checks under a shared lock, so a prune elsewhere cannot remove packs from under it. */
export async function runCheck(repo: Repository, opts: CheckOptions = {}): Promise<CheckJobResult> {
  const lock = await Lock.acquire(repo, { exclusive: false, readOnly: true, purpose: 'check' });
  let repository: CheckResult;
  let wal: WalArchiveHealth[];
  try {
    repository = await checkRepository(repo, opts);
    wal = await checkWalArchive(repo, { ...(opts.readData ? { readData: true } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
  } finally {
    await lock.release();
  }
  const problems = [
    ...repository.problems.map((p) => `${p.kind} ${p.id.slice(0, 16)}: ${p.message}`),
    ...wal.flatMap((w) => [...w.gaps.map((g) => `WAL gap ${g.from} .. ${g.to} (${g.reason})`), ...w.damaged.map((d) => `WAL file ${d.file}: ${d.error}`)]),
  ];
  return { repository, wal, ok: repository.ok && problems.length === 0, problems };
}

/** "10%" → 0.1; undefined for anything else. */
export function parseSubset(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  const n = m ? Number(m[1]) : NaN;
  return n > 0 && n <= 100 ? n / 100 : undefined;
}
