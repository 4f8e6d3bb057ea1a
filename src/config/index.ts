/**
 * lifeboat.yaml: the configuration of the site daemon and of the commands that need more than a repository
 * (`dns`, `config check`). One reader per section (site, repositories, groups, api, notify, daemon, dns)
 * turns YAML into the types of types.ts, with defaults filled in, relative paths taken from the file's
 * folder, schedules checked with croner and secrets read from their files or environment variables.
 *
 * Errors are CONFIG errors whose message is `FILE:LINE:COL: field.path: problem, expected ...`; an unknown
 * field names the nearest known one. The first error stops the reading. Secret values never appear in an
 * error, a warning or a summary.
 */
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { readApi } from './api.ts';
import { readDaemon } from './daemon.ts';
import { readDns } from './dns.ts';
import { readDocument } from './document.ts';
import { readConfigText } from './file.ts';
import { readGroups } from './groups.ts';
import { readNotify } from './notify.ts';
import { Reader, type ConfigWarning } from './reader.ts';
import { readJournals, readSites } from './replication.ts';
import { readRepositories } from './repositories.ts';
import { readSite } from './site.ts';
import type { Config } from './types.ts';

export type {
  ApiConfig,
  Config,
  DaemonConfig,
  GroupConfig,
  JournalConfig,
  MemberConfig,
  NotifyEvent,
  PeerSiteConfig,
  ReplicateConfig,
  RepositoryConfig,
  Role,
  ScheduleConfig,
  Secret,
  SiteConfig,
  TokenConfig,
  WebhookConfig,
} from './types.ts';
export type { ConfigWarning } from './reader.ts';
export { configDefaults, defaultDataDir } from './defaults.ts';
export { maxConfigBytes } from './file.ts';
export { formatDurationMs, parseDurationMs } from './duration.ts';
export { nextRun } from './schedule.ts';
export { isLoopback, roles, tokenHash } from './api.ts';
export { notifyEvents } from './notify.ts';
export { describeConfig } from './summary.ts';
export type { ConfigSummary } from './summary.ts';

const sections = ['site', 'repositories', 'groups', 'api', 'notify', 'daemon', 'dns', 'sites', 'journals'] as const;

export interface ParseOptions {
  /** Where `*_env` secrets and XDG_DATA_HOME are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The uid the daemon runs as, for the data folder's default (default: this process's). */
  uid?: number;
  home?: string;
  /** The time schedules are checked from (a schedule that never runs again is refused). Default: now. */
  now?: Date;
  /** Things allowed but unwise, each with file, line and field (an inline password, a secret file others can read). */
  onWarning?: (w: ConfigWarning) => void;
}

/** Reads the configuration file `file` (refused unless a regular file of at most `maxConfigBytes`). */
export function loadConfig(file: string, opts: ParseOptions = {}): Config {
  return parseConfig(readConfigText(file), file, opts);
}

/** Reads `text` as the configuration file `file` (relative paths in it are taken from that file's folder). */
export function parseConfig(text: string, file = 'lifeboat.yaml', opts: ParseOptions = {}): Config {
  const { doc, lines } = readDocument(text, file);
  const abs = resolve(file);
  const r = new Reader(file, doc, lines, { env: opts.env ?? process.env, base: dirname(abs), uid: opts.uid ?? process.getuid?.(), home: opts.home ?? homedir() });
  const root = doc.toJS() as unknown;
  const top = root === null || root === undefined ? {} : r.map(root, [], sections);
  const now = opts.now ?? new Date();
  const repositories = readRepositories(r, top['repositories']);
  const site = top['site'] !== undefined ? readSite(r, top['site']) : undefined;
  const sites = readSites(r, top['sites']);
  const cfg: Config = {
    file: abs,
    ...(site ? { site } : {}),
    repositories,
    groups: readGroups(r, top['groups'], repositories, now, sites),
    ...(top['api'] !== undefined ? { api: readApi(r, top['api']) } : {}),
    notify: readNotify(r, top['notify']),
    daemon: readDaemon(r, top['daemon']),
    ...(top['dns'] !== undefined ? { dns: readDns(r, top['dns'], dirname(abs)) } : {}),
    sites,
    journals: readJournals(r, top['journals'], site?.data),
  };
  for (const w of r.warnings) opts.onWarning?.(w);
  return cfg;
}
