/**
 * The scheduler: each group's backup and check schedules, on the injected clock. At a due time (plus a
 * random jitter up to the group's), the job is handed to the job queue, which keeps a group's jobs from
 * overlapping and bounds how many run at once. The last due time of each schedule is kept in the state
 * store: at start, a schedule that fell due while the daemon was down runs once ("missed"), however many
 * times it fell due. How late each job started after its due time is kept as the scheduler's lag.
 */
import { type Clock, type Health, type Service } from '../core/index.ts';
import { nextRun, type ScheduleConfig } from '../config/index.ts';
import type { JobKind, JobTrigger, StateStore } from './state.ts';

export interface ScheduleEntry {
  group: string;
  kind: JobKind;
  schedule: ScheduleConfig;
  jitterMs: number;
}

export interface SchedulerOptions {
  clock: Clock;
  state: StateStore;
  /** Hands a due job to the queue; `due` is when it was scheduled (without jitter). */
  submit: (group: string, kind: JobKind, trigger: JobTrigger, due: number) => void;
  /** [0, 1); tests fix it. */
  random?: () => number;
  log?: (e: Record<string, unknown>) => void;
}

interface Armed {
  entry: ScheduleEntry;
  next?: number;
  jitter: number;
  cancel?: () => void;
}

export class Scheduler implements Service {
  readonly name = 'scheduler';
  readonly #o: SchedulerOptions;
  #armed = new Map<string, Armed>();
  #entries: ScheduleEntry[] = [];
  #running = false;
  /** How late the last scheduled job was handed over, ms (jitter excluded). */
  lastLagMs = 0;
  maxLagMs = 0;

  constructor(entries: ScheduleEntry[], opts: SchedulerOptions) {
    this.#entries = entries;
    this.#o = opts;
  }

  start(signal: AbortSignal): Promise<void> {
    this.#running = true;
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    this.#catchUp();
    for (const e of this.#entries) this.#arm(e);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.#running = false;
    for (const a of this.#armed.values()) a.cancel?.();
    this.#armed.clear();
    return Promise.resolve();
  }

  /**
   * New schedules (a reloaded configuration): an unchanged schedule keeps its armed time (a run waiting out
   * its jitter is not lost); a changed or new one is armed from now; a removed one is cancelled.
   */
  replace(entries: ScheduleEntry[]): void {
    this.#entries = entries;
    if (!this.#running) return;
    const same = (a: ScheduleEntry, b: ScheduleEntry): boolean => a.schedule.cron === b.schedule.cron && a.schedule.timezone === b.schedule.timezone && a.jitterMs === b.jitterMs;
    const keep = new Map<string, Armed>();
    for (const e of entries) {
      const key = `${e.group}\0${e.kind}`;
      const a = this.#armed.get(key);
      if (a && same(a.entry, e)) keep.set(key, a);
    }
    for (const [key, a] of this.#armed) if (!keep.has(key)) a.cancel?.();
    this.#armed = keep;
    for (const e of entries) if (!keep.has(`${e.group}\0${e.kind}`)) this.#arm(e);
  }

  /** When a group's job next falls due (ms), if it has a schedule. */
  next(group: string, kind: JobKind): number | undefined {
    return this.#armed.get(`${group}\0${kind}`)?.next;
  }

  health(): Health {
    return { ok: this.#running, ...(this.#running ? {} : { detail: 'stopped' }), schedules: this.#armed.size, last_lag_ms: this.lastLagMs };
  }

  /** A due time recorded; a state store that cannot be written (a full disk) costs the made-up run after a restart, never the daemon. */
  #markDue(group: string, kind: JobKind, due: number): void {
    try {
      this.#o.state.markDue(group, kind, due);
    } catch (err) {
      this.#o.log?.({ event: 'state-write-failed', group, kind, error: (err as Error).message });
    }
  }

  /** A schedule that fell due between its last recorded due time and now runs once. */
  #catchUp(): void {
    const now = this.#o.clock.now();
    for (const e of this.#entries) {
      let last: number | undefined;
      try {
        last = this.#o.state.lastDue(e.group, e.kind);
      } catch (err) {
        this.#o.log?.({ event: 'state-read-failed', group: e.group, kind: e.kind, error: (err as Error).message });
        continue;
      }
      if (last === undefined) {
        // First start with this schedule: nothing was missed.
        this.#markDue(e.group, e.kind, now);
        continue;
      }
      const due = nextRun(e.schedule, new Date(last))?.getTime();
      if (due !== undefined && due <= now) {
        this.#o.log?.({ event: 'missed-run', group: e.group, kind: e.kind, due: new Date(due).toISOString() });
        this.#markDue(e.group, e.kind, now);
        this.#o.submit(e.group, e.kind, 'missed', due);
      }
    }
  }

  #arm(e: ScheduleEntry): void {
    const key = `${e.group}\0${e.kind}`;
    const now = this.#o.clock.now();
    const next = nextRun(e.schedule, new Date(now))?.getTime();
    if (next === undefined) {
      this.#armed.set(key, { entry: e, jitter: 0 });
      return;
    }
    const jitter = e.jitterMs > 0 ? Math.floor((this.#o.random ?? Math.random)() * e.jitterMs) : 0;
    const armed: Armed = { entry: e, next, jitter };
    armed.cancel = this.#o.clock.setTimer(next + jitter - now, () => {
      if (!this.#running || this.#armed.get(key) !== armed) return;
      const at = this.#o.clock.now();
      this.lastLagMs = Math.max(0, at - (next + jitter));
      this.maxLagMs = Math.max(this.maxLagMs, this.lastLagMs);
      this.#markDue(e.group, e.kind, next);
      try {
        this.#o.submit(e.group, e.kind, 'schedule', next);
      } catch (err) {
        this.#o.log?.({ event: 'submit-failed', group: e.group, kind: e.kind, error: (err as Error).message });
      }
      this.#arm(e);
    });
    this.#armed.set(key, armed);
  }
}
