/**
 * Time, injected. Domain code (retention, lock staleness, RPO, timeouts, schedules, poll loops) reads time
 * and waits through a `Clock` so tests can drive it; only the edges construct `systemClock`.
 */
import { abortError } from './errors.ts';

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's abort error as soon as it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms`; the returned function cancels it (idempotent). */
  setTimer(ms: number, fn: () => void): () => void;
}

/** `sleep` on top of `setTimer`, shared by both clocks. */
function sleepOn(clock: Pick<Clock, 'setTimer'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      cancel();
      reject(abortError(signal!));
    };
    const cancel = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return sleepOn(systemClock, ms, signal);
  },
  setTimer(ms, fn) {
    // Timers longer than setTimeout's 2^31-1 ms limit (~24.8 days) would fire at once: chain them.
    const MAX = 2 ** 31 - 1;
    let t: NodeJS.Timeout;
    const due = Date.now() + ms;
    const arm = (left: number): void => {
      t = setTimeout(() => {
        const rest = due - Date.now();
        if (rest > 0) arm(rest);
        else fn();
      }, Math.min(Math.max(left, 0), MAX));
    };
    arm(ms);
    return () => clearTimeout(t);
  },
};

interface ManualTimer {
  due: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock tests move by hand. Timers fire only inside `advance`, one at a time in due order, with the
 * clock set to each one's due time and the event loop let run between them, so code woken by a timer can
 * arm the next one within the same advance (a loop that sleeps 1 s runs 10 times in `advance(10_000)`).
 */
export class ManualClock implements Clock {
  #t: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  constructor(start: number | Date) {
    this.#t = typeof start === 'number' ? start : start.getTime();
  }
  now(): number {
    return this.#t;
  }
  /** Moves the clock without firing anything (a jump, as after a suspend); the next `advance` fires what is due. */
  set(t: number | Date): void {
    this.#t = typeof t === 'number' ? t : t.getTime();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
  setTimer(ms: number, fn: () => void): () => void {
    const timer: ManualTimer = { due: this.#t + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((x) => x !== timer);
    };
  }
  /** Timers waiting (for tests that wait until a loop has armed its next sleep). */
  get pending(): number {
    return this.#timers.length;
  }
  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#t + ms;
    await settle();
    for (;;) {
      const next = this.#timers.reduce<ManualTimer | undefined>((a, b) => (!a || b.due < a.due || (b.due === a.due && b.seq < a.seq) ? b : a), undefined);
      if (!next || next.due > end) break;
      this.#timers = this.#timers.filter((x) => x !== next);
      this.#t = Math.max(this.#t, next.due);
      next.fn();
      await settle();
    }
    this.#t = Math.max(this.#t, end);
  }
}

/** Lets promise continuations and I/O callbacks queued so far run. */
function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
