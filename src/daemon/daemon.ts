/**
 * The site daemon: one process per data folder that runs the configuration's protection groups. It owns
 * the data-folder lock, the state store, the job queue, the scheduler, the notifier and the API server,
 * started in that order and stopped in reverse (one `ServiceGroup`). Jobs are the same library calls the
 * CLI makes (src/jobs); this file decides only when they run and what is recorded.
 *
 * Per group it keeps the newest good recovery point (the start of the last backup that saved every
 * member), whether the last backup failed, and whether the recovery point is older than the RPO objective.
 * A change of either is announced once through the notifier (failure, recovery, breach, back within).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { isLifeboatError, LifeboatError, releaseIdleMemory, ServiceGroup, systemClock, type Clock, type Health, type Service } from '../core/index.ts';
import type { Config, GroupConfig, RepositoryConfig } from '../config/index.ts';
import { applyRetention, parseSubset, restoreSnapshotFiles, runBackup, runCheck } from '../jobs/index.ts';
import { fileTypes, openLocal, RestBackend } from '../repo/backend/index.ts';
import { loadSnapshots, Repository, type KeyCache, type SnapshotEntry } from '../repo/index.ts';
import { JournalHost, ReplicaKeeper, Sender, type KeeperState } from '../replication/index.ts';
import { describeMember } from '../sources/index.ts';
import { DataLock } from './data-lock.ts';
import type { RepoFacts } from './metrics.ts';
import { Notifier, type Notice } from './notify.ts';
import { JobQueue, type JobOutcome } from './queue.ts';
import { Scheduler, type ScheduleEntry } from './scheduler.ts';
import { StateStore, type JobKind, type JobRecord, type JobTrigger } from './state.ts';

export interface DaemonOptions {
  clock?: Clock;
  log?: (e: Record<string, unknown>) => void;
  random?: () => number;
  /** How often recovery-point ages are compared with their objectives (default 1 s). */
  rpoTickMs?: number;
  /** Extra services started last and stopped first (the API server). */
  extra?: (daemon: Daemon) => Service[];
}

export interface GroupStatus {
  name: string;
  repository: string;
  members: string[];
  /**
   * The newest good recovery point (ms): the start of the last backup that saved every member, or for a
   * replicated group the cut of its last checkpoint at the hot site, whichever is newer.
   */
  lastGood?: number;
  ageMs?: number;
  rpoMs?: number;
  rtoMs?: number;
  rpoBreached: boolean;
  failing: boolean;
  nextBackup?: number;
  nextCheck?: number;
  running: JobRecord[];
  /** Jobs queued behind the group's running one or the global limit. */
  waiting: JobRecord[];
  lastBackup?: JobRecord;
  lastCheck?: JobRecord;
  /** Continuous replication to the hot site, when the group has it. */
  replication?: { to: string; everyMs: number; lastCut?: number; lastAcked?: number; ageMs?: number; checkpoints: number; failures: number; error?: string };
}

export interface JournalStatus {
  group: string;
  from?: string;
  path: string;
  replica?: string;
  state: KeeperState;
  /** Age of the checkpoint applied to the replica (its cut at the primary), the recovery point here. */
  appliedAgeMs?: number;
}

interface GroupState {
  lastGood?: number;
  failing: Record<JobKind, boolean>;
  breached: boolean;
  snapshots?: number;
}

export class Daemon {
  readonly clock: Clock;
  readonly #opts: DaemonOptions;
  #config: Config;
  #state: StateStore | undefined;
  #lock: DataLock | undefined;
  #services: ServiceGroup | undefined;
  #queue: JobQueue | undefined;
  #scheduler: Scheduler | undefined;
  #notifier: Notifier | undefined;
  readonly #groups = new Map<string, GroupState>();
  /** Work the API started outside the queue (restores): cancelled and waited for before the daemon stops. */
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #tasksAc = new AbortController();
  /** Each repository's password is stretched once, not at every job (see OpenOptions.keyCache). */
  readonly #keyCache: KeyCache = new Map();
  /** Replication: a sender per replicated group; at a hot site, the journals served and replicas kept. */
  readonly #senders = new Map<string, Sender>();
  readonly #keepers = new Map<string, ReplicaKeeper>();
  readonly journals: JournalHost;
  #cancelTick: (() => void) | undefined;
  #survey: Promise<void> | undefined;
  readonly startedAt: number;
  /** Resolves with what ended the daemon from within (its data folder lost): the shell stops it and exits with it. */
  readonly failed: Promise<LifeboatError>;
  #fail: (err: LifeboatError) => void = () => undefined;
  /** Counters the metrics read. */
  readonly counters = { jobFailures: new Map<string, number>(), jobsRun: 0 };
  readonly facts: RepoFacts = { size: new Map(), snapshots: new Map() };

  constructor(config: Config, opts: DaemonOptions = {}) {
    if (!config.site) throw new LifeboatError('CONFIG', `${config.file} has no site section`, { hint: 'add `site: { name: NAME, data: /var/lib/lifeboat }`' });
    this.#config = config;
    this.#opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.startedAt = this.clock.now();
    this.failed = new Promise((resolve) => (this.#fail = resolve));
    this.journals = new JournalHost(() => this.#config.journals);
    this.journals.onSnapshot = (group) => this.#keepers.get(group)?.poke();
  }

  get config(): Config {
    return this.#config;
  }

  get state(): StateStore {
    if (!this.#state) throw new LifeboatError('INTERNAL', 'the daemon is not started');
    return this.#state;
  }

  get queue(): JobQueue {
    if (!this.#queue) throw new LifeboatError('INTERNAL', 'the daemon is not started');
    return this.#queue;
  }

  get scheduler(): Scheduler | undefined {
    return this.#scheduler;
  }

  log(e: Record<string, unknown>): void {
    this.#opts.log?.(e);
  }

  /** Locks the data folder, opens the state, starts the queue, the scheduler, the notifier and the extras. */
  async start(signal: AbortSignal): Promise<void> {
    const site = this.#config.site!;
    mkdirSync(site.data, { recursive: true, mode: 0o700 });
    this.#lock = await DataLock.acquire(site.data);
    this.#lock.watch(() => this.#dataLost());
    try {
      this.#state = await StateStore.open(site.data, this.clock.now());
      for (const g of this.#config.groups) this.#initGroup(g);
      this.#notifier = new Notifier(this.#config.notify.webhooks, { clock: this.clock, ...(this.#opts.log ? { log: this.#opts.log } : {}), ...(this.#opts.random ? { random: this.#opts.random } : {}) });
      this.#queue = new JobQueue({
        clock: this.clock,
        state: this.#state,
        maxConcurrent: this.#config.daemon.maxConcurrentJobs,
        execute: (job, sig) => this.#execute(job, sig),
        onStart: (job) => this.log({ event: 'job-started', job: job.id, group: job.group, kind: job.kind, trigger: job.trigger }),
        onEnd: (job) => this.#jobEnded(job),
        ...(this.#opts.log ? { log: this.#opts.log } : {}),
      });
      this.#scheduler = new Scheduler(this.#schedules(this.#config), {
        clock: this.clock,
        state: this.#state,
        submit: (group, kind, trigger, due) => void this.submit(group, kind, trigger, due),
        ...(this.#opts.random ? { random: this.#opts.random } : {}),
        ...(this.#opts.log ? { log: this.#opts.log } : {}),
      });
      this.#makeReplication(signal);
      this.#services = new ServiceGroup('daemon', [this.#notifier, this.#queue, this.#scheduler, ...this.#senders.values(), ...this.#keepers.values(), ...(this.#opts.extra?.(this) ?? [])]);
      signal.addEventListener('abort', () => this.#tasksAc.abort(), { once: true });
      await this.#services.start(signal);
      this.#tick();
      this.#survey = this.#surveyRepositories(signal);
      this.log({ event: 'daemon-started', site: site.name, data: site.data, groups: this.#config.groups.map((g) => g.name).join(',') });
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Cancels running jobs (recorded as interrupted), stops every service, releases the data folder. */
  async stop(): Promise<void> {
    this.#cancelTick?.();
    this.#cancelTick = undefined;
    try {
      // Restores first: the API server's stop waits for open requests, and a restore is one.
      this.#tasksAc.abort();
      await Promise.allSettled([...this.#tasks]);
      await this.#services?.stop();
      await this.#survey;
      await this.journals.close();
    } finally {
      this.#state?.close();
      this.#lock?.release();
    }
  }

  health(): Health {
    return this.#services?.health() ?? { ok: false, detail: 'not started' };
  }

  /** A new configuration (SIGHUP): the site and data folder must stay; groups, schedules and webhooks change at once. */
  reload(next: Config): void {
    if (next.site?.data !== this.#config.site?.data) {
      throw new LifeboatError('CONFIG', `site.data changed (${this.#config.site?.data} → ${next.site?.data}); the daemon keeps its data folder until restarted`, { hint: 'restart the daemon to move it' });
    }
    const api = (c: Config): string => JSON.stringify(c.api ? { listen: c.api.listen, tls: c.api.tls } : null);
    if (api(next) !== api(this.#config)) {
      throw new LifeboatError('CONFIG', 'api.listen or api.tls changed: the API keeps its address and certificate until the daemon is restarted', { hint: 'restart the daemon (systemctl restart lifeboat) to apply them' });
    }
    const replicated = (c: Config): string => JSON.stringify([c.sites.map((x) => [x.name, x.url, x.fingerprint, x.ca, x.token.value]), c.journals.map((j) => [j.group, j.path, j.replica, j.password.value]), c.groups.filter((g) => g.replicate).map((g) => [g.name, g.replicate, g.repository, g.members])]);
    if (replicated(next) !== replicated(this.#config)) {
      throw new LifeboatError('CONFIG', 'sites, journals or a replicated group changed: replication keeps its links and journals until the daemon is restarted', { hint: 'restart the daemon (systemctl restart lifeboat) to apply them' });
    }
    this.#config = next;
    for (const g of next.groups) if (!this.#groups.has(g.name)) this.#initGroup(g);
    for (const name of [...this.#groups.keys()]) if (!next.groups.some((g) => g.name === name)) this.#groups.delete(name);
    this.#scheduler?.replace(this.#schedules(next));
    this.#notifier?.replace(next.notify.webhooks);
    if (this.#queue) this.#queue.maxConcurrent = next.daemon.maxConcurrentJobs;
    this.log({ event: 'config-reloaded', file: next.file, groups: next.groups.map((g) => g.name).join(',') });
  }

  group(name: string): GroupConfig | undefined {
    return this.#config.groups.find((g) => g.name === name);
  }

  /** Queues a job (the API's "run now", the scheduler's due jobs). */
  submit(group: string, kind: JobKind, trigger: JobTrigger, due?: number): { job: JobRecord; queued: boolean } {
    const g = this.group(group);
    if (!g) throw new LifeboatError('NOT_FOUND', `no group ${group} in the configuration`, { hint: 'list the groups with `lifeboat status`' });
    if (kind === 'check' && !g.check && trigger !== 'api') throw new LifeboatError('USAGE', `group ${group} has no check schedule`);
    return this.queue.submit(group, kind, trigger, due);
  }

  status(name: string): GroupStatus {
    const g = this.group(name);
    if (!g) throw new LifeboatError('NOT_FOUND', `no group ${name} in the configuration`, { hint: 'list the groups with `lifeboat status`' });
    const st = this.#groups.get(name)!;
    const now = this.clock.now();
    const lastBackup = this.#state?.lastFinished(name, 'backup');
    const lastCheck = this.#state?.lastFinished(name, 'check');
    const nextBackup = this.#scheduler?.next(name, 'backup');
    const nextCheck = this.#scheduler?.next(name, 'check');
    return {
      name,
      repository: g.repository,
      members: g.members.map(describeMember),
      ...(this.#recoveryPoint(name) !== undefined ? { lastGood: this.#recoveryPoint(name)!, ageMs: Math.max(0, now - this.#recoveryPoint(name)!) } : {}),
      ...(g.objectives.rpoMs !== undefined ? { rpoMs: g.objectives.rpoMs } : {}),
      ...(g.objectives.rtoMs !== undefined ? { rtoMs: g.objectives.rtoMs } : {}),
      // Live, not the last tick's (which only decides when notices go out).
      rpoBreached: g.objectives.rpoMs !== undefined && now - (this.#recoveryPoint(name) ?? this.startedAt) > g.objectives.rpoMs,
      failing: st.failing.backup,
      ...(nextBackup !== undefined ? { nextBackup } : {}),
      ...(nextCheck !== undefined ? { nextCheck } : {}),
      running: this.#queue?.running.filter((j) => j.group === name) ?? [],
      waiting: this.#queue?.waiting.filter((j) => j.group === name) ?? [],
      ...(lastBackup ? { lastBackup } : {}),
      ...(lastCheck ? { lastCheck } : {}),
      ...(g.replicate ? { replication: this.#replicationStatus(g.name, g.replicate, now) } : {}),
    };
  }

  /** The newest good recovery point of a group: its last good backup, or its last checkpoint at the hot site. */
  #recoveryPoint(group: string): number | undefined {
    const backup = this.#groups.get(group)?.lastGood;
    const checkpoint = this.#senders.get(group)?.last?.cut;
    if (checkpoint === undefined) return backup;
    return backup === undefined ? checkpoint : Math.max(backup, checkpoint);
  }

  #replicationStatus(group: string, rep: NonNullable<GroupConfig['replicate']>, now: number): NonNullable<GroupStatus['replication']> {
    const s = this.#senders.get(group);
    const last = s?.last;
    const h = s?.health();
    return {
      to: rep.to,
      everyMs: rep.everyMs,
      ...(last ? { lastCut: last.cut, lastAcked: last.acked, ageMs: Math.max(0, now - last.cut) } : {}),
      checkpoints: s?.stats.checkpoints ?? 0,
      failures: s?.stats.failures ?? 0,
      ...(h && !h.ok && h.detail ? { error: h.detail } : {}),
    };
  }

  /** The journals this site keeps for other sites' groups. */
  journalStatus(): JournalStatus[] {
    const now = this.clock.now();
    return this.#config.journals.map((j) => {
      const state = this.#keepers.get(j.group)?.state ?? {};
      return { group: j.group, ...(j.from ? { from: j.from } : {}), path: j.path, ...(j.replica ? { replica: j.replica } : {}), state, ...(state.applied ? { appliedAgeMs: Math.max(0, now - state.applied.cut) } : {}) };
    });
  }

  #makeReplication(signal: AbortSignal): void {
    const log = this.#opts.log;
    for (const g of this.#config.groups) {
      if (!g.replicate) continue;
      const site = this.#config.sites.find((x) => x.name === g.replicate!.to)!;
      const rc = this.#config.repositories.find((r) => r.name === g.repository)!;
      const member = g.members[0]!;
      if (member.kind !== 'files') continue;
      const journal = new RestBackend({
        url: `${site.url}/v1/journals/${encodeURIComponent(g.name)}`,
        token: site.token.value,
        ...(site.fingerprint ? { fingerprint: site.fingerprint } : {}),
        ...(site.ca ? { ca: readFileSync(site.ca, 'utf8') } : {}),
        attempts: 3,
        // A link that stops answering (cut, a dropped route) fails the checkpoint after 10 s of silence: the
        // next one starts on a new connection instead of waiting out TCP's retransmissions.
        timeoutMs: 10_000,
      });
      let source: Promise<Repository> | undefined;
      this.#senders.set(
        g.name,
        new Sender({
          group: g.name,
          members: [{ paths: member.paths, excludes: member.excludes, oneFileSystem: member.oneFileSystem }],
          source: () => (source ??= openRepository(rc, this.clock, signal, this.#keyCache).catch((err: unknown) => {
            source = undefined;
            throw err;
          })),
          journal,
          everyMs: g.replicate.everyMs,
          watch: true,
          clock: this.clock,
          ...(this.#state?.lastCheckpoint(g.name) ? { resumeFrom: this.#state.lastCheckpoint(g.name)!.snapshot } : {}),
          onCheckpoint: (rec) => {
            try {
              this.#state?.markCheckpoint(g.name, rec.snapshots[0]!, rec.cut);
            } catch (err) {
              this.log({ event: 'state-write-failed', group: g.name, error: (err as Error).message });
            }
          },
          ...(log ? { log } : {}),
        }),
      );
    }
    for (const j of this.#config.journals) {
      if (!j.replica) continue;
      this.#keepers.set(j.group, new ReplicaKeeper(j, { clock: this.clock, keyCache: this.#keyCache, ...(log ? { log } : {}) }));
    }
  }

  groupState(name: string): Readonly<GroupState> | undefined {
    return this.#groups.get(name);
  }

  /** The repository a group writes to, opened for one piece of work and closed after. */
  async withRepository<T>(name: string, fn: (repo: Repository) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const rc = this.#config.repositories.find((r) => r.name === name);
    if (!rc) throw new LifeboatError('CONFIG', `no repository ${name} in the configuration`);
    const repo = await openRepository(rc, this.clock, signal, this.#keyCache);
    try {
      return await fn(repo);
    } finally {
      await repo.backend.close();
    }
  }

  /** Snapshots of a group, newest last (from the repository itself). */
  async snapshots(group: string, signal?: AbortSignal): Promise<SnapshotEntry[]> {
    const g = this.group(group);
    if (!g) throw new LifeboatError('NOT_FOUND', `no group ${group} in the configuration`);
    return this.withRepository(g.repository, async (repo) => (await loadSnapshots(repo, signal ? { signal } : {})).filter((s) => s.group === group), signal);
  }

  /** Files of one of a group's snapshots into a new folder (the API has checked the target is allowed). */
  async restore(group: string, req: { snapshot: string; target: string; include: string[] }): Promise<{ snapshot: string; files: number; dirs: number; bytes: number; warnings: string[] }> {
    const g = this.group(group);
    if (!g) throw new LifeboatError('NOT_FOUND', `no group ${group} in the configuration`);
    return this.#task((signal) =>
      this.withRepository(
        g.repository,
        async (repo) => {
          const { snapshot, result } = await restoreSnapshotFiles(repo, { group, ...req, noFollowTarget: true, signal });
          return { snapshot: snapshot.id, files: result.files, dirs: result.dirs, bytes: result.bytes, warnings: result.warnings.map((w) => `${w.path}: ${w.message}`) };
        },
        signal,
      ),
    );
  }

  /** Runs work outside the job queue under the daemon's stop signal, so the stop cancels it and waits for it. */
  #task<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.#tasksAc.signal.aborted) return Promise.reject(new LifeboatError('DAEMON', 'the daemon is stopping', { hint: 'ask again once it has restarted' }));
    const p = fn(this.#tasksAc.signal);
    this.#tasks.add(p);
    const forget = (): void => void this.#tasks.delete(p);
    p.then(forget, forget);
    return p;
  }

  notify(n: Omit<Notice, 'site' | 'time'>): void {
    this.log({ event: 'notice', notice: n.event, group: n.group, message: n.message });
    this.#notifier?.notify({ ...n, site: this.#config.site!.name, time: new Date(this.clock.now()).toISOString() } as Notice);
  }

  #initGroup(g: GroupConfig): void {
    const last = this.#state?.jobs({ group: g.name, kind: 'backup', limit: 50 }).find((j) => j.status === 'ok' || j.status === 'partial');
    const lastBackup = this.#state?.lastFinished(g.name, 'backup');
    const lastCheck = this.#state?.lastFinished(g.name, 'check');
    this.#groups.set(g.name, {
      ...(last?.started !== undefined ? { lastGood: last.started } : {}),
      failing: { backup: lastBackup?.status === 'failed', check: lastCheck?.status === 'failed' },
      breached: false,
    });
  }

  #schedules(c: Config): ScheduleEntry[] {
    return c.groups.flatMap((g) => [
      ...(g.schedule ? [{ group: g.name, kind: 'backup' as const, schedule: g.schedule, jitterMs: g.jitterMs }] : []),
      ...(g.check ? [{ group: g.name, kind: 'check' as const, schedule: g.check.schedule, jitterMs: g.jitterMs }] : []),
    ]);
  }

  async #execute(job: JobRecord, signal: AbortSignal): Promise<JobOutcome> {
    const g = this.group(job.group);
    if (!g) return { status: 'failed', error: `group ${job.group} is no longer in the configuration` };
    // No lock of the daemon's own between jobs: the repository's locks are shared by backups, checks,
    // restores and retention (forget without prune), so one group's long job never holds up another's.
    if (job.kind === 'check') {
      const subset = g.check?.readDataSubset !== undefined ? parseSubset(g.check.readDataSubset) : undefined;
      const r = await this.withRepository(g.repository, (repo) => runCheck(repo, { ...(subset ? { readDataSubset: subset } : {}), signal }), signal);
      return r.ok ? { status: 'ok' } : { status: 'failed', error: r.problems.slice(0, 20).join('; '), warnings: r.problems };
    }
    const warnings: string[] = [];
    return this.withRepository(
      g.repository,
      async (repo) => {
        const r = await runBackup(repo, {
          members: g.members,
          group: g.name,
          ...(g.tags.length ? { tags: g.tags } : {}),
          ...(g.hooks ? { hooks: g.hooks } : {}),
          signal,
          onWarning: (w) => warnings.push(`${w.path}: ${w.message}`),
        });
        const snapshots = r.members.flatMap((m) => (m.result ? [m.result.id] : []));
        let forgotten: number | undefined;
        if (r.status !== 'failed' && g.retention && !signal.aborted) {
          try {
            forgotten = (await applyRetention(repo, g.name, g.retention!, { signal }))?.removed.length;
          } catch (err) {
            if (signal.aborted) throw err;
            warnings.push(`retention did not run: ${(err as Error).message}`);
          }
        }
        await this.#updateFacts(repo, g.repository, signal).catch((err: unknown) => this.log({ event: 'facts-failed', repository: g.repository, error: (err as Error).message }));
        return {
          status: r.status,
          snapshots,
          bytesAdded: r.bytesAdded,
          warnings: [...r.problems, ...warnings],
          ...(r.status === 'failed' ? { error: r.problems.join('; ') } : {}),
          ...(forgotten !== undefined ? { forgotten } : {}),
        };
      },
      signal,
    );
  }

  /**
   * At start, each repository is opened once: a wrong password or a missing repository is logged at once
   * (not at the first scheduled job), sizes and snapshot counts are known, and a group with no job history
   * (a new data folder over an old repository) takes its newest snapshot as its recovery point.
   */
  async #surveyRepositories(signal: AbortSignal): Promise<void> {
    for (const rc of this.#config.repositories) {
      if (signal.aborted) return;
      try {
        await this.withRepository(
          rc.name,
          async (repo) => {
            await this.#updateFacts(repo, rc.name, signal);
            const newest = new Map<string, number>();
            for (const s of await loadSnapshots(repo, { signal })) if (s.group !== undefined) newest.set(s.group, Math.max(newest.get(s.group) ?? 0, Date.parse(s.time)));
            for (const [g, t] of newest) {
              const st = this.#groups.get(g);
              if (st && st.lastGood === undefined) st.lastGood = t;
            }
          },
          signal,
        );
      } catch (err) {
        if (signal.aborted) return;
        this.log({ event: 'repository-unavailable', repository: rc.name, path: rc.path, error: (err as Error).message, ...(isLifeboatError(err) && err.hint ? { hint: err.hint } : {}) });
      }
    }
  }

  /** The repository's size and its groups' snapshot counts, for status and metrics. */
  async #updateFacts(repo: Repository, name: string, signal: AbortSignal): Promise<void> {
    let size = 0;
    for (const type of fileTypes) for await (const f of repo.backend.list(type, { signal })) size += f.size;
    this.facts.size.set(name, size);
    const counts = new Map<string, number>();
    for (const s of await loadSnapshots(repo, { signal })) if (s.group !== undefined) counts.set(s.group, (counts.get(s.group) ?? 0) + 1);
    for (const g of this.#config.groups) if (g.repository === name) this.facts.snapshots.set(g.name, counts.get(g.name) ?? 0);
  }

  #jobEnded(job: JobRecord): void {
    this.counters.jobsRun++;
    this.log({ event: 'job-ended', job: job.id, group: job.group, kind: job.kind, status: job.status, ...(job.error ? { error: job.error } : {}) });
    const st = this.#groups.get(job.group);
    if (!st || job.status === 'interrupted' || job.status === 'queued' || job.status === 'running') return;
    if (job.status === 'failed') {
      const key = `${job.group}\0${job.kind}`;
      this.counters.jobFailures.set(key, (this.counters.jobFailures.get(key) ?? 0) + 1);
    }
    const failed = job.status === 'failed';
    // The newest good job is the recovery point (a group's jobs run one at a time), even if an older one was
    // stamped later by a clock that ran ahead: the age and the RPO must follow the real newest backup.
    if (job.kind === 'backup' && !failed && job.started !== undefined) st.lastGood = job.started;
    if (failed && !st.failing[job.kind]) {
      st.failing[job.kind] = true;
      this.notify({ event: 'job_failed', group: job.group, message: `${job.kind} of ${job.group} failed: ${job.error ?? 'unknown error'}`, job: job.id, kind: job.kind });
    } else if (!failed && st.failing[job.kind]) {
      st.failing[job.kind] = false;
      this.notify({ event: 'job_recovered', group: job.group, message: `${job.kind} of ${job.group} works again`, job: job.id, kind: job.kind });
    }
    this.#checkRpo();
    // The last job done: what its worker threads freed goes back to the system, not kept until the next one.
    const q = this.#queue;
    if (q && q.running.length === 0 && q.waiting.length === 0) {
      this.clock.setTimer(0, () => {
        if (q.running.length === 0 && q.waiting.length === 0) releaseIdleMemory();
      });
    }
  }

  /** Compares each group's recovery point with its objective; a change is announced once. */
  #checkRpo(): void {
    const now = this.clock.now();
    for (const g of this.#config.groups) {
      const st = this.#groups.get(g.name);
      const rpo = g.objectives.rpoMs;
      if (!st || rpo === undefined) continue;
      // A group never backed up counts from the daemon's start, so a new group is not in breach at once.
      const age = now - (this.#recoveryPoint(g.name) ?? this.startedAt);
      const breached = age > rpo;
      if (breached === st.breached) continue;
      st.breached = breached;
      this.notify(
        breached
          ? { event: 'rpo_breach', group: g.name, message: `the newest recovery point of ${g.name} is ${Math.round(age / 1000)} s old, over its RPO of ${Math.round(rpo / 1000)} s`, age_seconds: Math.round(age / 1000), rpo_seconds: Math.round(rpo / 1000) }
          : { event: 'rpo_recovered', group: g.name, message: `${g.name} is within its RPO of ${Math.round(rpo / 1000)} s again`, age_seconds: Math.round(age / 1000), rpo_seconds: Math.round(rpo / 1000) },
      );
    }
  }

  /** The data folder is gone or another: stop, so that a daemon started on a new folder there runs alone. */
  #dataLost(): void {
    const data = this.#config.site!.data;
    const err = new LifeboatError('DAEMON', `the data folder ${data} was deleted, moved or replaced under the running daemon`, {
      hint: 'the daemon stops so that no second daemon can run beside it on a new folder at that path; start it again (systemd does) to begin a new job history there (repositories are not affected)',
      context: { data },
    });
    this.log({ event: 'data-folder-lost', data, error: err.message });
    this.#fail(err);
  }

  #tick(): void {
    const every = this.#opts.rpoTickMs ?? 1000;
    let lost = false;
    const loop = (): void => {
      this.#cancelTick = this.clock.setTimer(every, () => {
        this.#checkRpo();
        if (!lost && this.#lock && !this.#lock.intact()) {
          lost = true;
          this.#dataLost();
        }
        loop();
      });
    };
    this.#checkRpo();
    loop();
  }
}

/** Opens a configured repository with its password (read from the configuration's secret). */
export async function openRepository(rc: RepositoryConfig, clock: Clock, signal?: AbortSignal, keyCache?: KeyCache): Promise<Repository> {
  const backend = await openLocal(rc.path);
  try {
    return await Repository.open(backend, rc.password.value, { clock, ...(signal ? { signal } : {}), ...(keyCache ? { keyCache } : {}) });
  } catch (err) {
    await backend.close();
    if (isLifeboatError(err) && err.code === 'WRONG_PASSWORD') {
      throw new LifeboatError('WRONG_PASSWORD', `repository ${rc.name} (${rc.path}): the password from ${rc.password.from} opens none of its keys`, { cause: err, hint: `check repositories.${rc.name} in the configuration; \`lifeboat -r ${rc.path} key list\` shows the repository's keys` });
    }
    throw err;
  }
}
