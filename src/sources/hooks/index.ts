/**
 * Hooks: commands run around a backup of any source, to quiesce an application (flush, freeze, pause
 * writers) and release it again. The pre command runs first; if it fails or times out, no backup is taken.
 * The post command always runs once the pre command was started, whatever happened since (a backup that
 * failed must not leave an application frozen). Both are recorded in the snapshot.
 *
 * Commands run with /bin/sh -c and see LIFEBOAT_HOOK (pre / post) and, for post, LIFEBOAT_BACKUP_STATUS
 * (ok / failed), and never the repository's password (LIFEBOAT_PASSWORD* are taken out of their
 * environment). A hook is done when its shell exits: what it starts in the background (`app-restart &`)
 * goes on. A timeout kills the shell and everything it started, at the limit.
 */
import { LifeboatError, run, stderrTail, throwIfAborted } from '../../core/index.ts';
import type { HookRun, Snapshot } from '../../repo/index.ts';

export interface HookSpec {
  pre?: string;
  post?: string;
  /** Per command. Default 5 minutes. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /**
   * Cancels the backup: a running pre hook is killed (no backup is taken); the post hook still runs, to undo
   * what the pre hook did, but for at most POST_AFTER_ABORT_MS.
   */
  signal?: AbortSignal;
}

/** How long the post hook may run once the backup was cancelled (a daemon stopping must stop in seconds). */
const POST_AFTER_ABORT_MS = 5000;

/** One hook's run, as the snapshot records it (`error` is the end of its stderr when it failed). */
export type HookRecord = HookRun;

export interface HooksRan {
  pre?: HookRecord;
  post?: HookRecord;
}

const defaultTimeoutMs = 5 * 60_000;

async function runHook(command: string, which: 'pre' | 'post', spec: HookSpec, status?: 'ok' | 'failed'): Promise<HookRecord> {
  const started = performance.now();
  const timeoutMs = which === 'post' && spec.signal?.aborted ? Math.min(spec.timeoutMs ?? defaultTimeoutMs, POST_AFTER_ABORT_MS) : (spec.timeoutMs ?? defaultTimeoutMs);
  const r = await run('/bin/sh', ['-c', command], {
    env: { ...withoutSecrets(spec.env ?? process.env), LIFEBOAT_HOOK: which, ...(status ? { LIFEBOAT_BACKUP_STATUS: status } : {}) },
    timeoutMs,
    ...(which === 'pre' && spec.signal ? { signal: spec.signal } : {}),
    maxStdout: 64 * 1024,
    doneAtExit: true,
  });
  const ok = r.code === 0 && !r.timedOut;
  return {
    command,
    ran: true,
    exit_code: r.code,
    timed_out: r.timedOut,
    duration_ms: Math.round(performance.now() - started),
    ...(ok ? {} : { error: r.timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : which === 'pre' && spec.signal?.aborted ? 'cancelled' : stderrTail(r.stderr) || `exit status ${String(r.code ?? r.signal)}` }),
  };
}

/** The environment without what opens the repository. */
function withoutSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!/^LIFEBOAT_(NEW_)?PASSWORD/.test(k)) out[k] = v;
  return out;
}

function failed(h: HookRecord | undefined): boolean {
  return h !== undefined && (h.exit_code !== 0 || h.timed_out);
}

/**
 * Run `backup` between the hooks. `backup` receives a finalize function to call when its data is stored
 * and before its snapshot is saved: it runs the post hook and records both hooks in the snapshot. If the
 * backup fails before that, the post hook runs anyway and the error is passed on.
 * Returns the backup's result and what the hooks did; a failed post hook after a saved snapshot is
 * reported in `ran.post` (the caller warns), not thrown.
 */
export async function withHooks<T>(
  spec: HookSpec,
  backup: (finalize: (snap: Snapshot) => Promise<void>) => Promise<T>,
  /** Filled as the hooks run, so a caller that gets the error still learns what they did. */
  ran: HooksRan = {},
): Promise<{ result: T; ran: HooksRan }> {
  if (!spec.pre && !spec.post) return { result: await backup(async () => undefined), ran };
  let postDone = false;
  const post = async (status: 'ok' | 'failed'): Promise<void> => {
    if (postDone || !spec.post) return;
    postDone = true;
    ran.post = await runHook(spec.post, 'post', spec, status);
  };
  try {
    if (spec.pre) {
      ran.pre = await runHook(spec.pre, 'pre', spec);
      throwIfAborted(spec.signal);
      if (failed(ran.pre)) {
        throw new LifeboatError('HOOK', `the pre hook failed (${ran.pre.error}); no backup was taken`, {
          hint: 'fix the command given with --pre-hook; the post hook was run to undo what it may have done',
          context: { hook: 'pre', exit_code: ran.pre.exit_code, timed_out: ran.pre.timed_out },
        });
      }
    }
    const result = await backup(async (snap) => {
      await post('ok');
      snap.hooks = { ...ran };
    });
    return { result, ran };
  } catch (err) {
    await post('failed').catch(() => undefined);
    throw err;
  }
}

export function postHookFailed(ran: HooksRan): boolean {
  return failed(ran.post);
}
