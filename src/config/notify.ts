/**
 * `notify:` — where the daemon says that something went wrong or came right: webhooks that receive a JSON
 * body per event, signed with HMAC-SHA256 when a secret is given (header X-Lifeboat-Signature).
 *
 * A webhook URL often carries a credential of its own (chat services put a token in the path), so no
 * message here quotes one.
 */
import { configDefaults } from './defaults.ts';
import { knownList, type Path, type Reader } from './reader.ts';
import type { NotifyEvent, WebhookConfig } from './types.ts';

export const notifyEvents: readonly NotifyEvent[] = ['job_failed', 'job_recovered', 'rpo_breach', 'rpo_recovered'];

function readWebhook(r: Reader, v: unknown, p: Path): WebhookConfig {
  const m = r.map(v, p, ['url', 'events', 'secret_file', 'secret_env', 'secret', 'timeout']);
  const raw = m['url'];
  let url: URL | undefined;
  try {
    if (typeof raw === 'string') url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) r.fail([...p, 'url'], `${raw === undefined ? 'missing: ' : ''}expected an http:// or https:// URL`);
  const events = r.list(
    m['events'],
    [...p, 'events'],
    (x, q) => {
      if (typeof x !== 'string' || !(notifyEvents as readonly string[]).includes(x)) r.fail(q, `${typeof x === 'string' ? `"${x}" is not an event` : 'expected an event'}${knownList(typeof x === 'string' ? x : '', notifyEvents)}`);
      return x as NotifyEvent;
    },
    { optional: true, nonEmpty: true },
  );
  const secret = r.secret(m, p, 'secret', { required: false, inline: true, what: 'webhook secret' });
  return {
    url: url.href,
    events: events.length ? [...new Set(events)] : [...notifyEvents],
    ...(secret ? { secret } : {}),
    timeoutMs: r.duration(m['timeout'], [...p, 'timeout'], configDefaults.webhookTimeoutMs, { min: 1000, max: 300_000 }),
  };
}

export function readNotify(r: Reader, v: unknown): { webhooks: WebhookConfig[] } {
  const m = v === undefined || v === null ? {} : r.map(v, ['notify'], ['webhooks']);
  return { webhooks: r.list(m['webhooks'], ['notify', 'webhooks'], (x, p) => readWebhook(r, x, p), { optional: true }) };
}
