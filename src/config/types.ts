/**
 * The shape of lifeboat.yaml once read: the one place these types are declared. The readers (one per
 * section) turn YAML into these, with defaults filled in, paths made absolute (relative ones are taken
 * from the configuration file's folder) and secrets read from their files or environment variables.
 * The dns section's type is discovery's own settings type, so there is no second copy of it.
 */
import type { DiscoverySettings } from '../discovery/index.ts';
import type { RetentionPolicy } from '../repo/index.ts';
import type { MemberSpec } from '../sources/index.ts';

/** A secret as configured: the value itself stays in memory only, never printed or logged. */
export interface Secret {
  /** Where it came from, for messages: `file /etc/lifeboat/repo.pass`, `env LIFEBOAT_PASSWORD`, `inline`. */
  from: string;
  value: string;
}

export interface SiteConfig {
  /** Letters, digits and '-'. */
  name: string;
  /** The daemon's data folder: its lock, job history and audit log (state.db), its TLS certificate. */
  data: string;
}

export interface RepositoryConfig {
  name: string;
  /** A local folder today (`path:` in YAML); object storage later (`url:`). */
  path: string;
  password: Secret;
}

/** A group member: the sources' own type (files with excludes, PostgreSQL logical or physical, SQLite). */
export type MemberConfig = MemberSpec;

export interface ScheduleConfig {
  /** Cron with an optional seconds field (6 fields), or @hourly/@daily/...; checked when read. */
  cron: string;
  /** IANA time zone the expression is read in (default: the machine's). */
  timezone?: string;
}

/** Another site this one talks to (its daemon's API): where, which certificate, which token it takes from us. */
export interface PeerSiteConfig {
  name: string;
  /** https://host:port of its API. */
  url: string;
  /** `sha256:<hex>` of its certificate (pinned), or a CA file its certificate must chain to. */
  fingerprint?: string;
  ca?: string;
  token: Secret;
}

/** Continuous replication of a group to its hot site. */
export interface ReplicateConfig {
  /** A name under `sites`. */
  to: string;
  /** How often a checkpoint is cut (default 1 s). */
  everyMs: number;
}

/** A group this site is the hot site for: its journal, who may write it, and the replica kept from it. */
export interface JournalConfig {
  /** The group's name at the primary. */
  group: string;
  /** The site that sends it (for messages). */
  from?: string;
  /** The token that site presents, as `sha256:<hex>`: it opens this journal and nothing else. */
  tokenHash: string;
  /** The group repository's password: the journal shares its key. */
  password: Secret;
  /** The journal repository's folder (default `<site.data>/journals/<group>`). */
  path: string;
  /** The hot replica folder kept equal to the newest checkpoint (files members), if any. */
  replica?: string;
}

export interface GroupConfig {
  name: string;
  /** A name under `repositories`. */
  repository: string;
  members: MemberConfig[];
  /** When backups run; none: only on demand (`lifeboat run GROUP`, the API). */
  schedule?: ScheduleConfig;
  /** A random delay up to this long before each scheduled run, so groups on one cron spread out. Default 0. */
  jitterMs: number;
  /** Applied after each successful backup (forget only; prune is a maintenance job). None: keep all. */
  retention?: RetentionPolicy;
  hooks?: { pre?: string; post?: string; timeoutMs?: number };
  objectives: { rpoMs?: number; rtoMs?: number };
  check?: { schedule: ScheduleConfig; readDataSubset?: string };
  tags: string[];
  replicate?: ReplicateConfig;
}

export type Role = 'viewer' | 'operator' | 'admin';

export interface TokenConfig {
  name: string;
  role: Role;
  /** `sha256:<hex>` of the token; tokens are never stored in clear in memory longer than reading them. */
  hash: string;
}

export interface ApiConfig {
  /** Host and port (default 127.0.0.1:7420). */
  listen: { host: string; port: number };
  /** Certificate and key files; absent: a self-signed pair in the data folder, unless on loopback with tls: false. */
  tls: { cert: string; key: string } | 'self-signed' | false;
  tokens: TokenConfig[];
  /** Folders a restore through the API may write into (absolute). None: restores through the API are refused. */
  restorePaths: string[];
}

export type NotifyEvent = 'job_failed' | 'job_recovered' | 'rpo_breach' | 'rpo_recovered';

export interface WebhookConfig {
  url: string;
  /** Default: all events. */
  events: NotifyEvent[];
  /** Signs each body (HMAC-SHA256, header X-Lifeboat-Signature). */
  secret?: Secret;
  timeoutMs: number;
}

export interface DaemonConfig {
  /** Jobs running at once across all groups. Default 2. */
  maxConcurrentJobs: number;
}

export interface Config {
  /** The file read (absolute). */
  file: string;
  site?: SiteConfig;
  repositories: RepositoryConfig[];
  groups: GroupConfig[];
  api?: ApiConfig;
  notify: { webhooks: WebhookConfig[] };
  daemon: DaemonConfig;
  dns?: DiscoverySettings;
  /** Other sites this one talks to. */
  sites: PeerSiteConfig[];
  /** Groups this site is the hot site for. */
  journals: JournalConfig[];
}
