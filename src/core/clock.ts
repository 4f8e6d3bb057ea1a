/**
 * Time, injected. Domain code (retention, lock staleness, RPO, timeouts) reads time through a `Clock`
 * so tests can drive it; only the edges construct `systemClock`.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  #t: number;
  constructor(start: number | Date) {
    this.#t = typeof start === 'number' ? start : start.getTime();
  }
  now(): number {
    return this.#t;
  }
  set(t: number | Date): void {
    this.#t = typeof t === 'number' ? t : t.getTime();
  }
  advance(ms: number): void {
    this.#t += ms;
  }
}
