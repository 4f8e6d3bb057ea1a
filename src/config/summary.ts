/**
 * What `lifeboat config check` shows of a configuration: a plain JSON-ready object, in snake_case like every
 * --json output. It is the one place a configuration is turned into something printable, so what it leaves
 * out cannot leak: secrets appear only as where they come from (`{"from": "file /etc/lifeboat/repo.pass"}`),
 * token hashes not at all, connection strings with their password replaced by ***, and webhook URLs by their
 * origin only (a chat service's webhook URL is itself a credential).
 */
import type { RetentionPolicy } from '../repo/index.ts';
import { redactConn } from '../sources/postgres/index.ts';
import { nextRun } from './schedule.ts';
import type { Config, MemberConfig, Role, ScheduleConfig } from './types.ts';

export interface ScheduleSummary {
  cron: string;
  timezone?: string;
  /** ISO 8601 (UTC) of the next run after `now`. */
  next_run?: string;
}

export type MemberSummary =
  | { kind: 'files'; paths: string[]; excludes: string[]; one_file_system: boolean }
  | { kind: 'postgres'; mode: 'logical' | 'physical'; conn: string; jobs?: number }
  | { kind: 'sqlite'; path: string };

export interface ConfigSummary {
  file: string;
  site?: { name: string; data: string };
  repositories: Array<{ name: string; path: string; password: { from: string } }>;
  groups: Array<{
    name: string;
    repository: string;
    members: MemberSummary[];
    schedule?: ScheduleSummary;
    jitter_ms: number;
    retention?: RetentionPolicy;
    hooks?: { pre?: string; post?: string; timeout_ms?: number };
    rpo_ms?: number;
    rto_ms?: number;
    check?: { schedule: ScheduleSummary; read_data_subset?: string };
    tags: string[];
    replicate?: { to: string; every_ms: number };
  }>;
  /** Peers: where, how their certificate is checked, where the token comes from (never the token). */
  sites: Array<{ name: string; url: string; fingerprint?: string; ca?: string; token: { from: string } }>;
  /** Journals kept for other sites' groups (the token only as configured: never its hash). */
  journals: Array<{ group: string; from?: string; path: string; replica?: string; password: { from: string } }>;
  api?: {
    listen: string;
    tls: 'self-signed' | false | { cert: string; key: string };
    tokens: Array<{ name: string; role: Role }>;
    tokens_by_role: Record<Role, number>;
    restore_paths: string[];
  };
  notify: { webhooks: Array<{ origin: string; events: string[]; secret?: { from: string }; timeout_ms: number }> };
  daemon: { max_concurrent_jobs: number };
  dns?: { listen: string[]; peers: string[]; zones: string[]; services: string[]; publishers: string[] };
}

const endpoint = (e: { host: string; port: number }): string => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

function schedule(s: ScheduleConfig, now: Date): ScheduleSummary {
  const next = nextRun(s, now);
  return { cron: s.cron, ...(s.timezone !== undefined ? { timezone: s.timezone } : {}), ...(next ? { next_run: next.toISOString() } : {}) };
}

function member(m: MemberConfig): MemberSummary {
  if (m.kind === 'files') return { kind: 'files', paths: m.paths, excludes: m.excludes, one_file_system: m.oneFileSystem };
  if (m.kind === 'sqlite') return { kind: 'sqlite', path: m.path };
  return { kind: 'postgres', mode: m.mode, conn: redactConn(m.conn), ...(m.mode === 'logical' && m.jobs !== undefined ? { jobs: m.jobs } : {}) };
}

/** The printable account of `cfg`; `now` is when next runs are computed from. */
export function describeConfig(cfg: Config, now: Date): ConfigSummary {
  return {
    file: cfg.file,
    ...(cfg.site ? { site: { name: cfg.site.name, data: cfg.site.data } } : {}),
    repositories: cfg.repositories.map((r) => ({ name: r.name, path: r.path, password: { from: r.password.from } })),
    groups: cfg.groups.map((g) => ({
      name: g.name,
      repository: g.repository,
      members: g.members.map(member),
      ...(g.schedule ? { schedule: schedule(g.schedule, now) } : {}),
      jitter_ms: g.jitterMs,
      ...(g.retention ? { retention: g.retention } : {}),
      ...(g.hooks
        ? { hooks: { ...(g.hooks.pre !== undefined ? { pre: g.hooks.pre } : {}), ...(g.hooks.post !== undefined ? { post: g.hooks.post } : {}), ...(g.hooks.timeoutMs !== undefined ? { timeout_ms: g.hooks.timeoutMs } : {}) } }
        : {}),
      ...(g.objectives.rpoMs !== undefined ? { rpo_ms: g.objectives.rpoMs } : {}),
      ...(g.objectives.rtoMs !== undefined ? { rto_ms: g.objectives.rtoMs } : {}),
      ...(g.check ? { check: { schedule: schedule(g.check.schedule, now), ...(g.check.readDataSubset !== undefined ? { read_data_subset: g.check.readDataSubset } : {}) } } : {}),
      tags: g.tags,
      ...(g.replicate ? { replicate: { to: g.replicate.to, every_ms: g.replicate.everyMs } } : {}),
    })),
    sites: cfg.sites.map((x) => ({ name: x.name, url: x.url, ...(x.fingerprint ? { fingerprint: x.fingerprint } : {}), ...(x.ca ? { ca: x.ca } : {}), token: { from: x.token.from } })),
    journals: cfg.journals.map((j) => ({ group: j.group, ...(j.from ? { from: j.from } : {}), path: j.path, ...(j.replica ? { replica: j.replica } : {}), password: { from: j.password.from } })),
    ...(cfg.api
      ? {
          api: {
            listen: endpoint(cfg.api.listen),
            tls: cfg.api.tls,
            tokens: cfg.api.tokens.map((t) => ({ name: t.name, role: t.role })),
            tokens_by_role: {
              viewer: cfg.api.tokens.filter((t) => t.role === 'viewer').length,
              operator: cfg.api.tokens.filter((t) => t.role === 'operator').length,
              admin: cfg.api.tokens.filter((t) => t.role === 'admin').length,
            },
            restore_paths: cfg.api.restorePaths,
          },
        }
      : {}),
    notify: {
      webhooks: cfg.notify.webhooks.map((w) => ({ origin: new URL(w.url).origin, events: w.events, ...(w.secret ? { secret: { from: w.secret.from } } : {}), timeout_ms: w.timeoutMs })),
    },
    daemon: { max_concurrent_jobs: cfg.daemon.maxConcurrentJobs },
    ...(cfg.dns
      ? {
          dns: {
            listen: cfg.dns.listen.map(endpoint),
            peers: cfg.dns.peers.map(endpoint),
            zones: cfg.dns.zones.map((z) => z.name),
            services: cfg.dns.services.map((s) => s.name),
            publishers: cfg.dns.publishers.map((p) => p.kind),
          },
        }
      : {}),
  };
}
