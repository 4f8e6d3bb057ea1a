/** `daemon:` — how the site daemon runs its jobs. */
import { configDefaults } from './defaults.ts';
import type { Reader } from './reader.ts';
import type { DaemonConfig } from './types.ts';

export function readDaemon(r: Reader, v: unknown): DaemonConfig {
  const m = v === undefined || v === null ? {} : r.map(v, ['daemon'], ['max_concurrent_jobs']);
  return { maxConcurrentJobs: r.int(m['max_concurrent_jobs'], ['daemon', 'max_concurrent_jobs'], configDefaults.maxConcurrentJobs, 1, 64) };
}
