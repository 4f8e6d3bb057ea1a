/**
 * The job queue: jobs wait here until they may run. A group's jobs never overlap (one at a time per group,
 * in the order asked), at most `maxConcurrent` run at once across groups, and a job asked for while the
 * same group and kind is already waiting is the waiting one (a schedule that fires every second while a
 * backup takes a minute adds one job, not sixty). Every job is recorded in the state store from the moment
 * it is queued to its end; a failing job is recorded and never stops the queue. `stop` cancels the
 * running jobs through their signals and records the waiting ones as interrupted.
 */
import { isLifeboatError, LifeboatError, type Clock, type Health, type Service } from '../core/index.ts';
import type { JobKind, JobRecord, JobStatus, JobTrigger, StateStore } from './state.ts';

export interface JobOutcome {
  status: Exclude<JobStatus, 'queued' | 'running'>;
  snapshots?: string[];
  bytesAdded?: number;
  warnings?: string[];
  error?: string;
  forgotten?: number;
}

export interface QueueOptions {
  clock: Clock;
  state: StateStore;
  maxConcurrent: number;
  /** Runs a job; its signal aborts when the daemon stops. A throw is recorded as failed (or interrupted when aborted). */
  execute: (job: JobRecord, signal: AbortSignal) => Promise<JobOutcome>;
  onStart?: (job: JobRecord) => void;
  onEnd?: (job: JobRecord) => void;
  log?: (e: Record<string, unknown>) => void;
}

interface Running {
  job: JobRecord;
  ac: AbortController;
  done: Promise<void>;
}

export class JobQueue implements Service {
  readonly name = 'jobs';
  readonly #o: QueueOptions;
  readonly #waiting: JobRecord[] = [];
  readonly #running = new Map<number, Running>();
  #stopped = true;
  maxConcurrent: number;

  constructor(opts: QueueOptions) {
    this.#o = opts;
    this.maxConcurrent = opts.maxConcurrent;
  }

  start(signal: AbortSignal): Promise<void> {
    this.#stopped = false;
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    this.#pump();
    return Promise.resolve();
  }

  /** Queues a job, or returns the same group and kind's job already waiting. */
  submit(group: string, kind: JobKind, trigger: JobTrigger, scheduledFor?: number): { job: JobRecord; queued: boolean } {
    const same = this.#waiting.find((j) => j.group === group && j.kind === kind);
    if (same) {
      this.#o.log?.({ event: 'job-coalesced', group, kind, trigger, job: same.id });
      return { job: same, queued: false };
    }
    let job: JobRecord;
    try {
      job = this.#o.state.addJob({ group, kind, trigger, queued: this.#o.clock.now(), ...(scheduledFor !== undefined ? { scheduledFor } : {}) });
    } catch (err) {
      // The state store cannot be written (a full disk): the job is refused, the daemon goes on.
      this.#o.log?.({ event: 'state-write-failed', group, kind, error: (err as Error).message });
      throw new LifeboatError('IO', `cannot record a ${kind} job of ${group}: ${(err as Error).message}`, { cause: err, hint: "free space where site.data is; the daemon's job history lives there" });
    }
    this.#waiting.push(job);
    this.#pump();
    return { job, queued: true };
  }

  get running(): JobRecord[] {
    return [...this.#running.values()].map((r) => r.job);
  }

  get waiting(): JobRecord[] {
    return [...this.#waiting];
  }

  /** Resolves when nothing is running or waiting (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.#running.size || (this.#waiting.length && !this.#stopped)) await Promise.race([...this.#running.values()].map((r) => r.done));
  }

  health(): Health {
    return { ok: !this.#stopped, ...(this.#stopped ? { detail: 'stopped' } : {}), running: this.#running.size, waiting: this.#waiting.length };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const now = this.#o.clock.now();
    for (const j of this.#waiting.splice(0)) {
      try {
        const ended = this.#o.state.endJob(j.id, { at: now, status: 'interrupted', error: 'the daemon stopped before the job started' });
        this.#o.onEnd?.(ended);
      } catch (err) {
        this.#o.log?.({ event: 'state-write-failed', job: j.id, error: (err as Error).message });
      }
    }
    for (const r of this.#running.values()) r.ac.abort();
    await Promise.all([...this.#running.values()].map((r) => r.done));
  }

  #pump(): void {
    if (this.#stopped) return;
    while (this.#running.size < this.maxConcurrent) {
      const busy = new Set([...this.#running.values()].map((r) => r.job.group));
      const i = this.#waiting.findIndex((j) => !busy.has(j.group));
      if (i < 0) return;
      const [job] = this.#waiting.splice(i, 1);
      this.#run(job!);
    }
  }

  #run(queued: JobRecord): void {
    const ac = new AbortController();
    const started = this.#o.clock.now();
    try {
      this.#o.state.startJob(queued.id, started);
    } catch (err) {
      this.#o.log?.({ event: 'state-write-failed', job: queued.id, error: (err as Error).message });
    }
    const job: JobRecord = { ...queued, status: 'running', started };
    this.#o.onStart?.(job);
    const done = (async () => {
      let outcome: JobOutcome;
      try {
        outcome = await this.#o.execute(job, ac.signal);
      } catch (err) {
        const aborted = ac.signal.aborted || (isLifeboatError(err) && err.code === 'ABORTED');
        outcome = { status: aborted ? 'interrupted' : 'failed', error: (err as Error)?.message ?? String(err) };
        if (!isLifeboatError(err) || err.code === 'INTERNAL') this.#o.log?.({ event: 'job-internal-error', job: job.id, error: (err as Error)?.stack ?? String(err) });
      }
      if (ac.signal.aborted && outcome.status !== 'ok') outcome = { ...outcome, status: 'interrupted' };
      let ended: JobRecord;
      try {
        ended = this.#o.state.endJob(job.id, { at: this.#o.clock.now(), ...outcome });
      } catch (err) {
        // The state store failing (a full disk) must not stop the queue: the job is logged instead.
        this.#o.log?.({ event: 'state-write-failed', job: job.id, error: (err as Error).message });
        ended = { ...job, status: outcome.status, ended: this.#o.clock.now() };
      }
      this.#running.delete(job.id);
      try {
        this.#o.onEnd?.(ended);
      } catch (err) {
        this.#o.log?.({ event: 'job-listener-failed', job: job.id, error: (err as Error).message });
      }
      this.#pump();
    })();
    this.#running.set(job.id, { job, ac, done });
  }
}
