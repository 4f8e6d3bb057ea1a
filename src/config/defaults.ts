/**
 * The defaults of lifeboat.yaml, each with the reason for its value. (The engine's tunables are in
 * src/core/defaults.ts; these are only what a configuration leaves out.)
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const configDefaults = {
  /**
   * The API listens on loopback only: nothing is reachable from the network until someone chooses an
   * address (and then TLS is on by default). 7420: unassigned by IANA, easy to remember next to 7421+.
   */
  apiHost: '127.0.0.1',
  apiPort: 7420,
  /**
   * Two jobs at once: one long backup does not hold back a short one, while a small host is not saturated
   * (each backup already uses every core for chunking and compression).
   */
  maxConcurrentJobs: 2,
  /** A webhook that has not answered in 10 s is not going to; the daemon must not wait on it longer. */
  webhookTimeoutMs: 10_000,
  /** No jitter unless asked: a single group's runs start at the times its cron says. */
  jitterMs: 0,
} as const;

/**
 * The daemon's data folder when `site.data` is not given: the system's place for a service running as root,
 * the XDG data folder of the user otherwise (so an unprivileged test or trial run needs no root).
 */
export function defaultDataDir(opts: { uid: number | undefined; env: NodeJS.ProcessEnv; home?: string }): string {
  if (opts.uid === 0) return '/var/lib/lifeboat';
  const xdg = opts.env['XDG_DATA_HOME'];
  // The XDG spec: a relative XDG_DATA_HOME is invalid and is ignored.
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'lifeboat');
  return join(opts.home ?? homedir(), '.local', 'share', 'lifeboat');
}
