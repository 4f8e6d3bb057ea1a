/**
 * The daemon's HTTP API (Hono): JSON under /v1, an OpenAPI document at /v1/openapi.json, Prometheus text at
 * /metrics. One route table gives both the routes and the document, so they cannot disagree.
 *
 * Every route but /v1/health and /v1/openapi.json needs a bearer token; tokens are compared by their
 * SHA-256 (the configuration holds only hashes), in constant time. Roles are ordered viewer < operator <
 * admin: an unknown or missing token is 401, too small a role 403; nothing is done, and the refusal is
 * written to the audit log. A client that keeps failing is answered more and more slowly (up to 10 s), so
 * tokens cannot be guessed at speed. Every call that changes something is audited with its outcome.
 * Request bodies are bounded (64 KiB). Expected failures answer with `{error: {code, message, hint}}` and
 * a status for their code; anything else is logged and answered as a plain 500.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Registry } from 'prom-client';
import { isLifeboatError, LifeboatError, type Clock } from '../core/index.ts';
import type { Role } from '../config/index.ts';
import type { SnapshotEntry } from '../repo/index.ts';
import { snapshotSource } from '../sources/index.ts';
import type { Daemon, GroupStatus } from './daemon.ts';
import type { JobRecord } from './state.ts';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };
export const MAX_BODY_BYTES = 64 * 1024;

type Access = Role | 'public';

interface Route {
  method: 'get' | 'post';
  /** Hono's form (`:name`); the OpenAPI document gets `{name}`. */
  path: string;
  access: Access;
  summary: string;
  /** For the document: the JSON body a POST takes. */
  body?: Record<string, unknown>;
  handler: (c: Context<Env>) => Promise<Response> | Response;
}

interface Actor {
  name: string;
  role: Role;
}

type Env = { Variables: { actor?: Actor } };

const STATUS_OF: Partial<Record<string, number>> = {
  USAGE: 400,
  CONFIG: 400,
  UNSAFE_PATH: 403,
  NOT_FOUND: 404,
  AMBIGUOUS: 400,
  EXISTS: 409,
  REPO_LOCKED: 409,
  ABORTED: 503,
};

function errorBody(code: string, message: string, hint?: string): { error: { code: string; message: string; hint?: string } } {
  return { error: { code, message, ...(hint ? { hint } : {}) } };
}

function jobJson(j: JobRecord): Record<string, unknown> {
  const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
  return {
    id: j.id,
    group: j.group,
    kind: j.kind,
    trigger: j.trigger,
    status: j.status,
    scheduled_for: iso(j.scheduledFor),
    queued: iso(j.queued),
    started: iso(j.started),
    ended: iso(j.ended),
    duration_seconds: j.started !== undefined && j.ended !== undefined ? (j.ended - j.started) / 1000 : undefined,
    snapshots: j.snapshots,
    bytes_added: j.bytesAdded,
    warnings: j.warnings,
    error: j.error,
    forgotten: j.forgotten,
  };
}

export function groupJson(s: GroupStatus, snapshots: number | undefined): Record<string, unknown> {
  const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
  return {
    name: s.name,
    repository: s.repository,
    members: s.members,
    last_good: iso(s.lastGood),
    age_seconds: s.ageMs === undefined ? undefined : Math.round(s.ageMs / 1000),
    rpo_seconds: s.rpoMs === undefined ? undefined : s.rpoMs / 1000,
    rto_seconds: s.rtoMs === undefined ? undefined : s.rtoMs / 1000,
    rpo_breached: s.rpoBreached,
    failing: s.failing,
    next_backup: iso(s.nextBackup),
    next_check: iso(s.nextCheck),
    running: s.running.map(jobJson),
    waiting: s.waiting.map(jobJson),
    last_backup: s.lastBackup ? jobJson(s.lastBackup) : undefined,
    last_check: s.lastCheck ? jobJson(s.lastCheck) : undefined,
    snapshots,
    replication: s.replication
      ? {
          to: s.replication.to,
          every_seconds: s.replication.everyMs / 1000,
          last_checkpoint: iso(s.replication.lastCut),
          acknowledged: iso(s.replication.lastAcked),
          age_seconds: s.replication.ageMs === undefined ? undefined : s.replication.ageMs / 1000,
          checkpoints: s.replication.checkpoints,
          failures: s.replication.failures,
          error: s.replication.error,
        }
      : undefined,
  };
}

function snapshotJson(s: SnapshotEntry): Record<string, unknown> {
  const src = snapshotSource(s);
  return { id: s.id, short_id: s.short_id, time: s.time, hostname: s.hostname, paths: s.paths, tags: s.tags ?? [], group: s.group, source: src ? { kind: src.kind, ...('mode' in src ? { mode: src.mode } : {}) } : { kind: s.source.kind }, consistency: s.consistency, summary: s.summary };
}

/**
 * Whether `target` lies inside one of `allowed` once symbolic links in its existing part are resolved
 * (a link inside an allowed folder that points out of it does not make the outside allowed), and is a
 * new or empty folder there.
 */
export function restoreTargetProblem(target: string, allowed: string[]): string | undefined {
  if (!isAbsolute(target)) return 'the target must be an absolute path';
  const abs = resolve(target);
  // The deepest part of the path that is there, a symbolic link counting even when it leads nowhere.
  const present = (p: string): boolean => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  let existing = abs;
  while (!present(existing)) existing = dirname(existing);
  let real: string;
  try {
    real = resolve(realpathSync(existing), relative(existing, abs));
  } catch {
    // Where a link to nothing would lead once something is made there cannot be checked now.
    return `${existing} is a symbolic link that leads nowhere: the API restores only into a new or empty folder`;
  }
  const inside = allowed.some((a) => {
    const base = existsSync(a) ? realpathSync(a) : resolve(a);
    return real === base || real.startsWith(base.endsWith(sep) ? base : base + sep);
  });
  if (!inside) return `${target} is outside the folders restores may write to (api.restore_paths: ${allowed.join(', ') || 'none'})`;
  if (allowed.some((a) => resolve(a) === abs)) return 'restore into a new folder below an allowed folder, not into the allowed folder itself';
  if (!statSync(existing).isDirectory()) return `${existing} is not a folder: the API restores only into a new or empty folder`;
  if (existing === abs && readdirSync(abs).length > 0) return `${target} exists and is not empty: the API restores only into a new or empty folder`;
  return undefined;
}

export interface ApiOptions {
  clock: Clock;
  metrics: Registry;
  /** The configured tokens, for comparison: name, role, hash (`sha256:<hex>`). */
  tokens: () => Array<{ name: string; role: Role; hash: string }>;
  restorePaths: () => string[];
}

/**
 * Remote addresses that keep failing to authenticate are answered later and later: from an address's 5th
 * failure within 10 minutes, each refusal waits (100 ms, doubling, at most 10 s) and at most
 * `MAX_HELD` refusals per address wait at once; more are answered 429 at once. A refusal keeps its place
 * for its whole wait even if the client hangs up, so guesses sent in parallel gain nothing.
 *
 * A valid token is never delayed or queued: tokens are long random secrets (api.tokens warns under 16
 * characters; the local one is 256 bits), so this guards the daemon's time and its audit log rather than
 * the tokens, and junk sent from an address cannot lock out the admin CLI or a Prometheus that share it
 * (one host, a NAT, a proxy). A valid token does not clear the count either (a viewer token slipped in
 * between guesses at the admin token would otherwise reset it).
 */
class Slowdown {
  static readonly MAX_HELD = 8;
  readonly #fails = new Map<string, { count: number; last: number }>();
  readonly #held = new Map<string, number>();
  constructor(readonly clock: Clock) {}
  delayFor(remote: string): number {
    const f = this.#fails.get(remote);
    if (!f || this.clock.now() - f.last > 10 * 60_000) return 0;
    return f.count < 5 ? 0 : Math.min(10_000, 100 * 2 ** (f.count - 5));
  }
  fail(remote: string): void {
    const f = this.#fails.get(remote);
    const now = this.clock.now();
    this.#fails.set(remote, { count: f && now - f.last <= 10 * 60_000 ? f.count + 1 : 1, last: now });
    if (this.#fails.size > 10_000) this.#fails.delete(this.#fails.keys().next().value!);
  }
  /** Waits out the address's delay before a refusal; false (at once) when `MAX_HELD` are waiting already. */
  async hold(remote: string): Promise<boolean> {
    const ms = this.delayFor(remote);
    if (ms === 0) return true;
    const n = this.#held.get(remote) ?? 0;
    if (n >= Slowdown.MAX_HELD) return false;
    this.#held.set(remote, n + 1);
    try {
      await this.clock.sleep(ms);
    } finally {
      const left = (this.#held.get(remote) ?? 1) - 1;
      if (left > 0) this.#held.set(remote, left);
      else this.#held.delete(remote);
    }
    return true;
  }
}

/**
 * Refusals of requests without a valid token are audited one by one up to a rate (a burst of 50, then one
 * a second, for all addresses together); beyond it they are counted, and the count is written as one row
 * with the next row that is written. A flood from many addresses (an IPv6 /64) cannot fill the disk.
 */
class RefusalBudget {
  #tokens = 50;
  #at: number;
  #suppressed = 0;
  readonly #addresses = new Set<string>();
  constructor(readonly clock: Clock) {
    this.#at = clock.now();
  }
  /** Whether this refusal gets its own row; if not, it is counted. */
  take(remote: string): boolean {
    const now = this.clock.now();
    this.#tokens = Math.min(50, this.#tokens + (now - this.#at) / 1000);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens--;
      return true;
    }
    this.#suppressed++;
    if (this.#addresses.size < 1000) this.#addresses.add(remote);
    return false;
  }
  /** The count since the last row, as a summary row's detail (and the count reset); undefined if none. */
  summary(): string | undefined {
    if (this.#suppressed === 0) return undefined;
    const s = `${this.#suppressed} more requests without a valid token refused, not logged one by one (from ${this.#addresses.size >= 1000 ? 'at least 1000' : this.#addresses.size} address${this.#addresses.size === 1 ? '' : 'es'})`;
    this.#suppressed = 0;
    this.#addresses.clear();
    return s;
  }
}

function param(c: Context, k: string): string {
  return c.req.param(k) ?? '';
}

function remoteOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'local';
  }
}

export function apiApp(d: Daemon, opts: ApiOptions): Hono<Env> {
  const app = new Hono<Env>();
  const slow = new Slowdown(opts.clock);
  const refusals = new RefusalBudget(opts.clock);
  const audit = (c: Context<Env>, status: number, outcome: 'ok' | 'refused' | 'failed', detail?: string): void => {
    const actor = c.get('actor');
    const remote = remoteOf(c);
    if (!actor && !refusals.take(remote)) return;
    try {
      const time = opts.clock.now();
      const summary = refusals.summary();
      if (summary) d.state.audit({ time, actor: '-', role: '-', method: '-', path: '-', status: 401, outcome: 'refused', remote: '-', detail: summary });
      d.state.audit({ time, actor: actor?.name ?? '-', role: actor?.role ?? '-', method: c.req.method, path: c.req.path, status, outcome, remote, ...(detail ? { detail } : {}) });
    } catch (err) {
      d.log({ event: 'audit-failed', error: (err as Error).message });
    }
  };

  const authorize = async (c: Context<Env>, need: Role): Promise<Response | undefined> => {
    const remote = remoteOf(c);
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    let actor: Actor | undefined;
    if (m) {
      const h = createHash('sha256').update(m[1]!).digest();
      for (const t of opts.tokens()) {
        const want = Buffer.from(t.hash.replace(/^sha256:/, ''), 'hex');
        if (want.length === h.length && timingSafeEqual(want, h)) actor = { name: t.name, role: t.role };
      }
    }
    if (actor) return grant(c, actor, need);
    slow.fail(remote);
    audit(c, 401, 'refused', m ? 'unknown token' : 'no token');
    if (!(await slow.hold(remote))) {
      c.header('Retry-After', String(Math.ceil(slow.delayFor(remote) / 1000)));
      return c.json(errorBody('SLOW_DOWN', 'too many requests with a wrong or missing token from this address', 'wait, and send a valid token (Authorization: Bearer TOKEN)'), 429);
    }
    c.header('WWW-Authenticate', 'Bearer realm="lifeboat"');
    return c.json(errorBody('UNAUTHENTICATED', m ? 'unknown token' : 'a bearer token is required', 'send Authorization: Bearer TOKEN (tokens are configured under api.tokens)'), 401);
  };

  const grant = (c: Context<Env>, actor: Actor, need: Role): Response | undefined => {
    c.set('actor', actor);
    if (RANK[actor.role] < RANK[need]) {
      audit(c, 403, 'refused', `needs ${need}, token has ${actor.role}`);
      return c.json(errorBody('FORBIDDEN', `this needs the ${need} role; token ${actor.name} is ${actor.role}`), 403);
    }
    return undefined;
  };

  const groupOr404 = (name: string): void => {
    if (!d.group(name)) throw new LifeboatError('NOT_FOUND', `no group ${name}`, { hint: 'GET /v1/groups lists them' });
  };

  const routes: Route[] = [
    { method: 'get', path: '/v1/health', access: 'public', summary: 'Liveness: 200 while the daemon runs (no details without a token)', handler: (c) => c.json({ ok: d.health().ok }) },
    { method: 'get', path: '/v1/openapi.json', access: 'public', summary: 'This document', handler: (c) => c.json(openapi(routes)) },
    {
      method: 'get',
      path: '/v1/status',
      access: 'viewer',
      summary: 'The site and every group: newest good recovery point and its age against the RPO, next runs, running jobs',
      handler: (c) => {
        const cfg = d.config;
        return c.json({
          site: cfg.site!.name,
          started: new Date(d.startedAt).toISOString(),
          health: d.health(),
          groups: cfg.groups.map((g) => groupJson(d.status(g.name), d.facts.snapshots.get(g.name))),
          repositories: cfg.repositories.map((r) => ({ name: r.name, path: r.path, size_bytes: d.facts.size.get(r.name) })),
        });
      },
    },
    {
      method: 'get',
      path: '/v1/journals',
      access: 'viewer',
      summary: "The journals this site keeps as other sites' hot site: newest checkpoint received, the one applied to the replica and its age",
      handler: (c) => {
        const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());
        return c.json({
          journals: d.journalStatus().map((j) => ({
            group: j.group,
            from: j.from,
            path: j.path,
            replica: j.replica,
            newest_checkpoint: j.state.newest ? { snapshot: j.state.newest.snapshot, cut: iso(j.state.newest.cut) } : undefined,
            applied_checkpoint: j.state.applied ? { snapshot: j.state.applied.snapshot, cut: iso(j.state.applied.cut), applied: iso(j.state.applied.at) } : undefined,
            applied_age_seconds: j.appliedAgeMs === undefined ? undefined : j.appliedAgeMs / 1000,
            error: j.state.error,
          })),
        });
      },
    },
    { method: 'get', path: '/v1/groups', access: 'viewer', summary: 'The protection groups', handler: (c) => c.json({ groups: d.config.groups.map((g) => groupJson(d.status(g.name), d.facts.snapshots.get(g.name))) }) },
    {
      method: 'get',
      path: '/v1/groups/:name',
      access: 'viewer',
      summary: 'One group',
      handler: (c) => {
        groupOr404(param(c, 'name'));
        return c.json(groupJson(d.status(param(c, 'name')), d.facts.snapshots.get(param(c, 'name'))));
      },
    },
    {
      method: 'get',
      path: '/v1/groups/:name/snapshots',
      access: 'viewer',
      summary: "The group's snapshots in its repository, oldest first",
      handler: async (c) => {
        groupOr404(param(c, 'name'));
        return c.json({ snapshots: (await d.snapshots(param(c, 'name'))).map(snapshotJson) });
      },
    },
    {
      method: 'get',
      path: '/v1/jobs',
      access: 'viewer',
      summary: 'Job history, newest first (?group=, ?kind=backup|check, ?status=, ?limit= up to 1000, ?before=ID)',
      handler: (c) => {
        const q = c.req.query();
        const num = (v: string | undefined): number | undefined => (v !== undefined && /^\d{1,9}$/.test(v) ? Number(v) : undefined);
        if (q['kind'] !== undefined && q['kind'] !== 'backup' && q['kind'] !== 'check') throw new LifeboatError('USAGE', 'kind is backup or check');
        const jobs = d.state.jobs({
          ...(q['group'] ? { group: q['group'] } : {}),
          ...(q['kind'] ? { kind: q['kind'] as 'backup' | 'check' } : {}),
          ...(q['status'] ? { status: q['status'] as JobRecord['status'] } : {}),
          ...(num(q['limit']) !== undefined ? { limit: num(q['limit'])! } : {}),
          ...(num(q['before']) !== undefined ? { before: num(q['before'])! } : {}),
        });
        return c.json({ jobs: jobs.map(jobJson) });
      },
    },
    {
      method: 'get',
      path: '/v1/jobs/:id',
      access: 'viewer',
      summary: 'One job',
      handler: (c) => {
        const id = param(c, 'id');
        const j = /^\d{1,9}$/.test(id) ? d.state.job(Number(id)) : undefined;
        if (!j) throw new LifeboatError('NOT_FOUND', `no job ${id}`);
        return c.json(jobJson(j));
      },
    },
    {
      method: 'post',
      path: '/v1/groups/:name/backup',
      access: 'operator',
      summary: 'Back the group up now (202 with the job; the same job if one is already waiting)',
      handler: (c) => {
        groupOr404(param(c, 'name'));
        const r = d.submit(param(c, 'name'), 'backup', 'api');
        audit(c, 202, 'ok', `job ${r.job.id}`);
        return c.json({ job: jobJson(r.job), queued: r.queued }, 202);
      },
    },
    {
      method: 'post',
      path: '/v1/groups/:name/check',
      access: 'operator',
      summary: "Check the group's repository now (202 with the job)",
      handler: (c) => {
        groupOr404(param(c, 'name'));
        const r = d.submit(param(c, 'name'), 'check', 'api');
        audit(c, 202, 'ok', `job ${r.job.id}`);
        return c.json({ job: jobJson(r.job), queued: r.queued }, 202);
      },
    },
    {
      method: 'post',
      path: '/v1/restore',
      access: 'admin',
      summary: 'Restore files or folders of a snapshot into a new or empty folder below one of api.restore_paths',
      body: { group: 'string', snapshot: 'id, prefix or "latest"', include: ['absolute paths in the snapshot (optional: all)'], target: 'absolute path' },
      handler: async (c) => {
        let body: { group?: unknown; snapshot?: unknown; include?: unknown; target?: unknown };
        const shape = 'the body must be a JSON object: {"group", "snapshot", "include", "target"}';
        try {
          body = await c.req.json();
        } catch {
          throw new LifeboatError('USAGE', shape);
        }
        // JSON that is not an object (null, a list, a number) has no fields to read.
        if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new LifeboatError('USAGE', shape);
        const str = (v: unknown, f: string): string => {
          if (typeof v !== 'string' || v === '' || v.length > 4096 || v.includes('\0')) throw new LifeboatError('USAGE', `${f} must be a non-empty string`);
          return v;
        };
        const group = str(body.group, 'group');
        groupOr404(group);
        const ref = str(body.snapshot, 'snapshot');
        const target = str(body.target, 'target');
        const include = body.include === undefined ? [] : Array.isArray(body.include) && body.include.length <= 1000 ? body.include.map((p, i) => str(p, `include[${i}]`)) : (() => {
          throw new LifeboatError('USAGE', 'include must be a list of at most 1000 absolute paths');
        })();
        const problem = restoreTargetProblem(target, opts.restorePaths());
        if (problem) {
          audit(c, 403, 'refused', problem);
          return c.json(errorBody('UNSAFE_PATH', problem, 'restore below a folder listed in api.restore_paths'), 403);
        }
        const result = await d.restore(group, { snapshot: ref, target, include });
        audit(c, 200, result.warnings.length ? 'failed' : 'ok', `snapshot ${result.snapshot.slice(0, 8)} to ${target}`);
        return c.json({ ...result, target });
      },
    },
    {
      method: 'get',
      path: '/v1/audit',
      access: 'admin',
      summary: 'The audit log, newest first (?limit= up to 1000)',
      handler: (c) => {
        // Digits only, as /v1/jobs reads it: SQLite takes a negative LIMIT as none, and 1.5 as an error (a 500).
        const limit = c.req.query('limit') ?? '';
        return c.json({ audit: d.state.auditLog((/^\d{1,9}$/.test(limit) ? Number(limit) : 0) || 100) });
      },
    },
    {
      method: 'get',
      path: '/metrics',
      access: 'viewer',
      summary: 'Prometheus metrics (text exposition format)',
      handler: async (c) => c.body(await opts.metrics.metrics(), 200, { 'content-type': opts.metrics.contentType }),
    },
  ];

  // Journals (this site as a hot site): the rest backend's protocol for the one group a token opens. Before
  // the body limit: packs are megabytes (serveBackend bounds them itself).
  const journal = async (c: Context<Env>): Promise<Response> => {
    const remote = remoteOf(c);
    const group = param(c, 'group');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    const j = d.journals.authorize(group, m?.[1]);
    if (!j) {
      slow.fail(remote);
      audit(c, 401, 'refused', m ? 'unknown token for this journal' : 'no token');
      if (!(await slow.hold(remote))) return c.json(errorBody('SLOW_DOWN', 'too many requests with a wrong or missing token from this address'), 429);
      return c.json(errorBody('UNAUTHENTICATED', 'this token opens no journal of that name'), 401);
    }
    const base = `/v1/journals/${encodeURIComponent(group)}`;
    const rest = c.req.path.length > base.length ? c.req.path.slice(base.length + 1) : '';
    let decoded: string;
    try {
      decoded = decodeURIComponent(rest);
    } catch {
      return c.json(errorBody('USAGE', 'not a repository path'), 400);
    }
    return d.journals.handle(j, c.req.raw, decoded);
  };
  app.all('/v1/journals/:group', journal);
  app.all('/v1/journals/:group/*', journal);

  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      // The rest of the body is left unread and the connection is dropped soon after: a client told it
      // stays open would send its next request on it and see that request cut off.
      onError: (c) => c.json(errorBody('TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`), 413, { connection: 'close' }),
    }),
  );
  for (const r of routes) {
    app[r.method](r.path, async (c) => {
      if (r.access !== 'public') {
        const refused = await authorize(c, r.access);
        if (refused) return refused;
      }
      try {
        return await r.handler(c);
      } catch (err) {
        const status = isLifeboatError(err) ? (STATUS_OF[err.code] ?? 500) : 500;
        if (r.method === 'post') audit(c, status, 'failed', (err as Error).message);
        if (isLifeboatError(err) && err.code !== 'INTERNAL') return c.json(errorBody(err.code, err.message, err.hint), status as 400);
        d.log({ event: 'api-internal-error', path: c.req.path, error: (err as Error)?.stack ?? String(err) });
        return c.json(errorBody('INTERNAL', 'internal error (logged by the daemon)'), 500);
      }
    });
  }
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`, 'GET /v1/openapi.json lists the routes'), 404));
  return app;
}

function openapi(routes: Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = r.path.replace(/:(\w+)/g, '{$1}');
    const params = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    (paths[p] ??= {})[r.method] = {
      summary: r.summary,
      'x-role': r.access,
      ...(r.access === 'public' ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', example: r.body } } } } } : {}),
      responses: {
        [r.method === 'post' && r.path.endsWith('backup') ? '202' : r.method === 'post' && r.path.endsWith('check') ? '202' : '200']: { description: 'OK' },
        ...(r.access !== 'public' ? { '401': { description: 'no or unknown token' }, '403': { description: `needs the ${r.access} role` } } : {}),
        ...(r.method === 'post' ? { '413': { description: `body over ${MAX_BODY_BYTES} bytes` } } : {}),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Lifeboat site daemon', version: '1', description: 'Roles: viewer < operator < admin. Errors: {"error": {"code", "message", "hint"}}.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
