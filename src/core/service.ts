/**
 * One lifecycle for everything that runs until told to stop (DNS server, peer sync, scheduler, API server,
 * replication loops): `start(signal)` resolves once the service is up (listening, armed) and rejects if it
 * cannot come up; aborting the signal stops it, as does `stop()`, which is idempotent and resolves once
 * nothing of it runs any more; `health()` says how it is doing, cheaply, at any time.
 */
import { LifeboatError } from './errors.ts';

export interface Health {
  ok: boolean;
  /** What is wrong, or what it is doing, in a few words. */
  detail?: string;
  [k: string]: unknown;
}

export interface Service {
  readonly name: string;
  start(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
  health(): Health;
}

/** Stops a service when a signal aborts (for implementations of `start`). */
export function stopOnAbort(signal: AbortSignal, service: Pick<Service, 'stop'>): void {
  if (signal.aborted) {
    void service.stop();
    return;
  }
  signal.addEventListener('abort', () => void service.stop(), { once: true });
}

/**
 * Services started in order and stopped in reverse: if one cannot start, the ones already started are
 * stopped again and the error is thrown, so a half-started set never keeps running.
 */
export class ServiceGroup implements Service {
  readonly name: string;
  readonly #services: Service[] = [];
  readonly #started: Service[] = [];
  #stopping: Promise<void> | undefined;

  constructor(name: string, services: Service[] = []) {
    this.name = name;
    this.#services.push(...services);
  }

  add(service: Service): this {
    if (this.#started.length) throw new LifeboatError('INTERNAL', `service ${service.name} added to ${this.name} after it started`);
    this.#services.push(service);
    return this;
  }

  get services(): readonly Service[] {
    return this.#services;
  }

  async start(signal: AbortSignal): Promise<void> {
    stopOnAbort(signal, this);
    for (const s of this.#services) {
      if (signal.aborted) break;
      try {
        await s.start(signal);
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.#started.push(s);
    }
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const errors: unknown[] = [];
      for (const s of [...this.#started].reverse()) {
        try {
          await s.stop();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length) throw errors[0];
    })();
    return this.#stopping;
  }

  health(): Health {
    const parts = Object.fromEntries(this.#services.map((s) => [s.name, s.health()]));
    const bad = Object.entries(parts).filter(([, h]) => !h.ok);
    return { ok: bad.length === 0, ...(bad.length ? { detail: bad.map(([n, h]) => `${n}: ${h.detail ?? 'not ok'}`).join('; ') } : {}), services: parts };
  }
}
