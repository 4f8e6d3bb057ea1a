/**
 * Webhook notifications: a JSON POST per event to every webhook that asked for it, signed with HMAC-SHA256
 * when the webhook has a secret (`X-Lifeboat-Signature: sha256=<hex>` over the body). A delivery that fails
 * (no answer, a timeout, a status other than 2xx) is tried again with exponential backoff and jitter, on
 * the injected clock; each webhook's deliveries go out in order, one at a time, so a receiver that is down
 * for a while gets them late but in order. Nothing here ever throws into the daemon.
 */
import { createHmac } from 'node:crypto';
import { type Clock, type Health, type Service } from '../core/index.ts';
import type { NotifyEvent, WebhookConfig } from '../config/index.ts';

export interface Notice {
  event: NotifyEvent;
  site: string;
  group: string;
  /** ISO 8601. */
  time: string;
  message: string;
  [k: string]: unknown;
}

export interface NotifierOptions {
  clock: Clock;
  log?: (e: Record<string, unknown>) => void;
  /** Attempts per delivery (default 6: over ~1 minute). */
  attempts?: number;
  /** First retry delay (default 1 s), doubled each time, up to 5 minutes. */
  backoffMs?: number;
  random?: () => number;
}

interface Target {
  hook: WebhookConfig;
  queue: Notice[];
  busy: boolean;
  failures: number;
}

/**
 * Notices waiting per webhook. Notices are sent once per change of state, so only a receiver that stays down
 * while many groups flap fills this; then the oldest are dropped (counted and logged), not memory exhausted.
 */
export const MAX_QUEUED = 1000;

export class Notifier implements Service {
  readonly name = 'notify';
  readonly #o: NotifierOptions;
  #targets: Target[];
  readonly #ac = new AbortController();
  readonly #inflight = new Set<Promise<void>>();
  /** Deliveries that reached a receiver, and that were given up. */
  readonly stats = { sent: 0, dropped: 0 };

  constructor(hooks: WebhookConfig[], opts: NotifierOptions) {
    this.#o = opts;
    this.#targets = hooks.map((hook) => ({ hook, queue: [], busy: false, failures: 0 }));
  }

  start(signal: AbortSignal): Promise<void> {
    signal.addEventListener('abort', () => void this.stop(), { once: true });
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#ac.abort();
    await Promise.allSettled([...this.#inflight]);
  }

  /** New webhooks (a reloaded configuration); deliveries under way finish to their old target. */
  replace(hooks: WebhookConfig[]): void {
    this.#targets = hooks.map((hook) => ({ hook, queue: [], busy: false, failures: 0 }));
  }

  health(): Health {
    const failing = this.#targets.filter((t) => t.failures > 0);
    return failing.length ? { ok: false, detail: `webhook ${failing.map((t) => redactUrl(t.hook.url)).join(', ')} failing`, ...this.stats } : { ok: true, ...this.stats };
  }

  notify(n: Notice): void {
    if (this.#ac.signal.aborted) return;
    for (const t of this.#targets) {
      if (!t.hook.events.includes(n.event)) continue;
      t.queue.push(n);
      if (t.queue.length - (t.busy ? 1 : 0) > MAX_QUEUED) {
        // The oldest waiting one: while busy, the first is the one being delivered.
        const lost = t.queue.splice(t.busy ? 1 : 0, 1)[0]!;
        this.stats.dropped++;
        this.#o.log?.({ event: 'notice-dropped', webhook: redactUrl(t.hook.url), notice: lost.event, group: lost.group, reason: `more than ${MAX_QUEUED} notices wait for this webhook` });
      }
      if (!t.busy) this.#drain(t);
    }
  }

  #drain(t: Target): void {
    t.busy = true;
    const p = (async () => {
      while (t.queue.length && !this.#ac.signal.aborted) {
        const n = t.queue[0]!;
        await this.#deliver(t, n);
        t.queue.shift();
      }
      t.busy = false;
    })();
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  async #deliver(t: Target, n: Notice): Promise<void> {
    const body = JSON.stringify(n);
    const attempts = this.#o.attempts ?? 6;
    let delay = this.#o.backoffMs ?? 1000;
    for (let i = 1; i <= attempts; i++) {
      let problem: string;
      try {
        const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'lifeboat-daemon', 'x-lifeboat-event': n.event };
        if (t.hook.secret) headers['x-lifeboat-signature'] = `sha256=${createHmac('sha256', t.hook.secret.value).update(body).digest('hex')}`;
        // fetch refuses a URL with user:password@: they go as Basic authorization instead.
        const url = new URL(t.hook.url);
        if (url.username || url.password) {
          headers['authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
          url.username = '';
          url.password = '';
        }
        const res = await fetch(url, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.any([this.#ac.signal, AbortSignal.timeout(t.hook.timeoutMs)]) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.stats.sent++;
          if (t.failures) this.#o.log?.({ event: 'webhook-working', url: redactUrl(t.hook.url) });
          t.failures = 0;
          return;
        }
        problem = `answered ${res.status}`;
      } catch (err) {
        if (this.#ac.signal.aborted) return;
        const raw = (err as Error).cause ? String(((err as Error).cause as Error).message ?? (err as Error).cause) : (err as Error).message;
        // An error's text may quote the URL, credential and all.
        problem = raw.split(t.hook.url).join(redactUrl(t.hook.url)).replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (m) => redactUrl(m));
      }
      t.failures++;
      this.#o.log?.({ event: 'webhook-failed', url: redactUrl(t.hook.url), notice: n.event, attempt: i, of: attempts, error: problem });
      if (i === attempts) break;
      const jitter = 0.5 + (this.#o.random ?? Math.random)() * 0.5;
      try {
        await this.#o.clock.sleep(Math.round(delay * jitter), this.#ac.signal);
      } catch {
        return;
      }
      delay = Math.min(delay * 2, 300_000);
    }
    this.stats.dropped++;
    this.#o.log?.({ event: 'webhook-gave-up', url: redactUrl(t.hook.url), notice: n.event });
  }
}

/** A URL as logs may show it: scheme and host only (chat services put the credential in the path). */
export function redactUrl(u: string): string {
  try {
    const x = new URL(u);
    return `${x.protocol}//${x.host}/…`;
  } catch {
    return '(invalid URL)';
  }
}
