/**
 * Prometheus metrics (`/metrics`), read from the daemon when scraped, so they are never stale: per group the
 * age of the newest good recovery point against its objective, the last job's status, duration and bytes
 * added, the snapshot count; each repository's size; the scheduler's lag; job failures; the process's own
 * CPU and memory. Names follow Prometheus conventions (base units: seconds, bytes).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Daemon } from './daemon.ts';

export interface RepoFacts {
  /** Bytes of every file of the repository, and the group's snapshot counts, as of the last job that changed them. */
  size: Map<string, number>;
  snapshots: Map<string, number>;
}

export function daemonMetrics(d: Daemon, facts: RepoFacts): Registry {
  const registry = new Registry();
  // prom-client's names already start with process_ or nodejs_: lifeboat_process_cpu_seconds_total.
  // The event-loop delay is sampled once a second: prom-client's 10 ms default woke the idle daemon ~100
  // times a second (most of its idle CPU; bench/results/daemon-*).
  collectDefaultMetrics({ register: registry, prefix: 'lifeboat_', eventLoopMonitoringPrecision: 1000 });
  const groups = (): string[] => d.config.groups.map((g) => g.name);
  new Gauge({
    name: 'lifeboat_group_recovery_point_age_seconds',
    help: 'Age of the newest good recovery point of the group (the start of the last backup that saved every member); absent before the first',
    labelNames: ['group'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groups()) {
        const s = d.status(g);
        if (s.ageMs !== undefined) this.set({ group: g }, s.ageMs / 1000);
      }
    },
  });
  new Gauge({
    name: 'lifeboat_group_recovery_point_timestamp_seconds',
    help: 'Unix time of the newest good recovery point of the group',
    labelNames: ['group'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groups()) {
        const s = d.status(g);
        if (s.lastGood !== undefined) this.set({ group: g }, s.lastGood / 1000);
      }
    },
  });
  new Gauge({
    name: 'lifeboat_group_rpo_objective_seconds',
    help: 'The RPO objective of the group',
    labelNames: ['group'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of d.config.groups) if (g.objectives.rpoMs !== undefined) this.set({ group: g.name }, g.objectives.rpoMs / 1000);
    },
  });
  new Gauge({
    name: 'lifeboat_group_rpo_breached',
    help: '1 when the newest recovery point is older than the RPO objective',
    labelNames: ['group'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groups()) this.set({ group: g }, d.status(g).rpoBreached ? 1 : 0);
    },
  });
  const lastJob = (kind: 'backup' | 'check') => (g: string) => (kind === 'backup' ? d.status(g).lastBackup : d.status(g).lastCheck);
  new Gauge({
    name: 'lifeboat_group_last_job_success',
    help: '1 when the last finished job of this kind succeeded (ok or partial), 0 when it failed or was interrupted',
    labelNames: ['group', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groups()) {
        for (const kind of ['backup', 'check'] as const) {
          const j = lastJob(kind)(g);
          if (j) this.set({ group: g, kind }, j.status === 'ok' || j.status === 'partial' ? 1 : 0);
        }
      }
    },
  });
  new Gauge({
    name: 'lifeboat_group_last_job_duration_seconds',
    help: 'How long the last finished job of this kind ran',
    labelNames: ['group', 'kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groups()) {
        for (const kind of ['backup', 'check'] as const) {
          const j = lastJob(kind)(g);
          if (j?.started !== undefined && j.ended !== undefined) this.set({ group: g, kind }, (j.ended - j.started) / 1000);
        }
      }
    },
  });
  new Gauge({
    name: 'lifeboat_group_last_backup_added_bytes',
    help: 'New data the last finished backup stored (before compression)',
    labelNames: ['group'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groups()) {
        const j = d.status(g).lastBackup;
        if (j) this.set({ group: g }, j.bytesAdded);
      }
    },
  });
  new Gauge({
    name: 'lifeboat_group_snapshots',
    help: 'Snapshots of the group in its repository, as of its last job',
    labelNames: ['group'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [g, n] of facts.snapshots) if (groups().includes(g)) this.set({ group: g }, n);
    },
  });
  new Gauge({
    name: 'lifeboat_group_jobs_running',
    help: 'Jobs of the group running now',
    labelNames: ['group'],
    registers: [registry],
    collect() {
      this.reset();
      for (const g of groups()) this.set({ group: g }, d.status(g).running.length);
    },
  });
  new Gauge({
    name: 'lifeboat_repository_size_bytes',
    help: 'Bytes of all files of the repository, as of the last job that wrote to it',
    labelNames: ['repository'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [r, n] of facts.size) this.set({ repository: r }, n);
    },
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
