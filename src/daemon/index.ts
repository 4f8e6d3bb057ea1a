/**
 * The site daemon: scheduler, job queue and history, notifications, metrics and the HTTP API around the
 * jobs layer. `startDaemon` wires them from a configuration; the `lifeboat daemon` command is a thin shell
 * over it (signals, output). `client` is how the CLI talks to a running daemon.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLoopback, loadConfig, type Config } from '../config/index.ts';
import { LifeboatError, type Clock } from '../core/index.ts';
import { apiApp } from './api.ts';
import { Daemon } from './daemon.ts';
import { daemonMetrics } from './metrics.ts';
import { ApiServer } from './server.ts';
import { loadTls, type TlsMaterial } from './tls.ts';
import { LOCAL_TOKEN_FILE } from './client.ts';

/** A fresh admin token for the CLI on this host, readable by the daemon's user only; its hash is returned. */
function writeLocalToken(dataDir: string): string {
  const token = randomBytes(32).toString('base64url');
  const file = join(dataDir, LOCAL_TOKEN_FILE);
  writeFileSync(`${file}.tmp`, `${token}\n`, { mode: 0o600 });
  chmodSync(`${file}.tmp`, 0o600);
  renameSync(`${file}.tmp`, file);
  return `sha256:${createHash('sha256').update(token).digest('hex')}`;
}

export { Daemon, openRepository } from './daemon.ts';
export type { DaemonOptions, GroupStatus } from './daemon.ts';
export { apiApp, restoreTargetProblem, MAX_BODY_BYTES } from './api.ts';
export { ApiServer } from './server.ts';
export { StateStore } from './state.ts';
export type { JobRecord, JobStatus, JobKind, AuditRecord } from './state.ts';
export { Scheduler } from './scheduler.ts';
export { JobQueue } from './queue.ts';
export { Notifier, redactUrl } from './notify.ts';
export type { Notice } from './notify.ts';
export { DataLock } from './data-lock.ts';
export { fingerprintOf, loadTls, normalizeFingerprint } from './tls.ts';
export { apiRequest, daemonEndpoint, LOCAL_TOKEN_FILE } from './client.ts';
export type { ApiEndpoint } from './client.ts';

export interface RunningDaemon {
  daemon: Daemon;
  api?: ApiServer;
  tls?: TlsMaterial;
}

/** Starts a daemon for `config`: data folder locked, state opened, jobs scheduled, API listening. */
export async function startDaemon(config: Config, opts: { clock?: Clock; log?: (e: Record<string, unknown>) => void; signal: AbortSignal; random?: () => number }): Promise<RunningDaemon> {
  let api: ApiServer | undefined;
  let tls: TlsMaterial | undefined;
  const local = { name: 'local', role: 'admin' as const, hash: '' };
  const daemon = new Daemon(config, {
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.random ? { random: opts.random } : {}),
    extra: (d) => {
      if (!config.api) return [];
      const a = config.api;
      // Here, with the data folder locked (a refused second daemon must not replace the token) and before
      // the API listens (a CLI call meanwhile would read the last run's token).
      local.hash = writeLocalToken(config.site!.data);
      const app = apiApp(d, {
        clock: d.clock,
        metrics: daemonMetrics(d, d.facts),
        // Read at each request, so a reload (SIGHUP) takes effect at once.
        tokens: () => [...(d.config.api?.tokens ?? []), local],
        restorePaths: () => d.config.api?.restorePaths ?? [],
      });
      api = new ApiServer(app, { host: a.listen.host, port: a.listen.port, ...(tls ? { tls } : {}) });
      return [api];
    },
  });
  if (config.api) {
    if (config.api.tls === false && !isLoopback(config.api.listen.host)) {
      throw new LifeboatError('CONFIG', `api.tls is off but api.listen (${config.api.listen.host}) is not loopback`, { hint: 'the API needs TLS unless it listens on 127.0.0.1 or ::1 only' });
    }
    mkdirSync(config.site!.data, { recursive: true, mode: 0o700 });
    if (config.api.tls !== false) tls = await loadTls(config.api.tls, config.site!.data, config.api.listen.host);
  }
  await daemon.start(opts.signal);
  return { daemon, ...(api ? { api } : {}), ...(tls ? { tls } : {}) };
}

/** Reads the configuration again for a running daemon; a bad file is refused and the old one kept. */
export function reloadDaemon(daemon: Daemon): Config {
  const next = loadConfig(daemon.config.file);
  daemon.reload(next);
  return next;
}
