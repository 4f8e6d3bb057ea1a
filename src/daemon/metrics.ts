/**
 * Prometheus metrics (`/metrics`), read from the daemon when scraped, so they are never stale: per group the
 * age of the newest good recovery point against its objective, the last job's status, duration and bytes
 * added, the snapshot count; each repository's size; the scheduler's lag; job failures; the process's own
 * CPU and memory. Names follow Prometheus conventions (base units: seconds, bytes).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Daemon, GroupStatus } from './daemon.ts';

export interface RepoFacts {
  /** Bytes of every file of the repository, and the group's snapshot counts, as of the last job that changed them. */
  size: Map<string, number>;
  snapshots: Map<string, number>;
}

type Labels = Record<string, string>;

export function daemonMetrics(d: Daemon, facts: RepoFacts): Registry {
  const registry = new Registry();
  // prom-client's names already start with process_ or nodejs_: lifeboat_process_cpu_seconds_total.
  // The event-loop delay is sampled once a second: prom-client's 10 ms default woke the idle daemon ~100
  // times a second (most of its idle CPU; bench/results/daemon-*).
  collectDefaultMetrics({ register: registry, prefix: 'lifeboat_', eventLoopMonitoringPrecision: 1000 });
  const groups = (): string[] => d.config.groups.map((g) => g.name);
  // One status per group per scrape (each reads the job history), shared by the gauges below.
  let scrape: Map<string, GroupStatus> | undefined;
  const status = (g: string): GroupStatus => {
    if (!scrape) {
      scrape = new Map();
      setImmediate(() => (scrape = undefined));
    }
    let s = scrape.get(g);
    if (!s) scrape.set(g, (s = d.status(g)));
    return s;
  };
  /** A gauge whose samples are all read at each scrape (series of groups that went away disappear). */
  const gauge = (name: string, help: string, labelNames: string[], samples: () => Iterable<[Labels, number]>): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, v] of samples()) this.set(labels, v);
      },
    });
  };
  function* perGroup(value: (s: GroupStatus) => number | undefined): Iterable<[Labels, number]> {
    for (const g of groups()) {
      const v = value(status(g));
      if (v !== undefined) yield [{ group: g }, v];
    }
  }
  function* perJob(value: (j: NonNullable<GroupStatus['lastBackup']>) => number | undefined): Iterable<[Labels, number]> {
    for (const g of groups()) {
      const s = status(g);
      for (const [kind, j] of [['backup', s.lastBackup], ['check', s.lastCheck]] as const) {
        const v = j && value(j);
        if (v !== undefined) yield [{ group: g, kind }, v];
      }
    }
  }

  gauge('lifeboat_group_recovery_point_age_seconds', 'Age of the newest good recovery point of the group (the start of the last backup that saved every member); absent before the first', ['group'], () =>
    perGroup((s) => (s.ageMs !== undefined ? s.ageMs / 1000 : undefined)),
  );
  gauge('lifeboat_group_recovery_point_timestamp_seconds', 'Unix time of the newest good recovery point of the group', ['group'], () => perGroup((s) => (s.lastGood !== undefined ? s.lastGood / 1000 : undefined)));
  gauge('lifeboat_group_rpo_objective_seconds', 'The RPO objective of the group', ['group'], () => perGroup((s) => (s.rpoMs !== undefined ? s.rpoMs / 1000 : undefined)));
  gauge('lifeboat_group_rpo_breached', '1 when the newest recovery point is older than the RPO objective', ['group'], () => perGroup((s) => (s.rpoBreached ? 1 : 0)));
  gauge('lifeboat_group_last_job_success', '1 when the last finished job of this kind succeeded (ok or partial), 0 when it failed or was interrupted', ['group', 'kind'], () =>
    perJob((j) => (j.status === 'ok' || j.status === 'partial' ? 1 : 0)),
  );
  gauge('lifeboat_group_last_job_duration_seconds', 'How long the last finished job of this kind ran', ['group', 'kind'], () =>
    perJob((j) => (j.started !== undefined && j.ended !== undefined ? (j.ended - j.started) / 1000 : undefined)),
  );
  gauge('lifeboat_group_last_backup_added_bytes', 'New data the last finished backup stored (before compression)', ['group'], () => perGroup((s) => s.lastBackup?.bytesAdded));
  gauge('lifeboat_group_snapshots', 'Snapshots of the group in its repository, as of its last job', ['group'], () => perGroup((s) => facts.snapshots.get(s.name)));
  gauge('lifeboat_group_replication_age_seconds', 'Age of the newest checkpoint the hot site has acknowledged (its cut): the recovery point of replication; absent before the first', ['group'], () =>
    perGroup((s) => (s.replication?.ageMs !== undefined ? s.replication.ageMs / 1000 : undefined)),
  );
  gauge('lifeboat_journal_applied_age_seconds', "Age (since its cut at the primary) of the checkpoint applied to this hot site's replica folder", ['group'], function* () {
    for (const j of d.journalStatus()) if (j.appliedAgeMs !== undefined) yield [{ group: j.group }, j.appliedAgeMs / 1000];
  });
  gauge('lifeboat_group_jobs_running', 'Jobs of the group running now', ['group'], () => perGroup((s) => s.running.length));
  gauge('lifeboat_repository_size_bytes', 'Bytes of all files of the repository, as of the last job that wrote to it', ['repository'], function* () {
    for (const [r, n] of facts.size) yield [{ repository: r }, n];
  });
  new Gauge({
    name: 'lifeboat_scheduler_lag_seconds',
    help: 'How late the last scheduled job was handed to the queue after its due time (jitter excluded)',
    registers: [registry],
    collect() {
      this.set((d.scheduler?.lastLagMs ?? 0) / 1000);
    },
  });
  new Counter({
    name: 'lifeboat_job_failures_total',
    help: 'Jobs that failed since the daemon started',
    labelNames: ['group', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of d.counters.jobFailures) {
        const [group, kind] = key.split('\0');
        this.inc({ group: group!, kind: kind! }, n);
      }
    },
  });
  return registry;
}
