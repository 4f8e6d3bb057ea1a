/**
 * Publishers: how a service's live site is made known to users. One small interface, several ways:
 *   - BuiltinPublisher: Lifeboat's own DNS servers (a signed update to one; waits until all show it);
 *   - Rfc2136Publisher: an external authoritative server (BIND, Knot, PowerDNS) by signed dynamic update;
 *   - AddressPublisher: the service's address itself moves to the recovery host.
 * `publish` returns when the change is visible where it was made (verified by asking), and refuses a
 * stale epoch. `current` says what is live now.
 */
import dnsPacket from 'dns-packet';
import { randomInt } from 'node:crypto';
import { LifeboatError } from '../core/index.ts';
import { exchange, query, txtStrings, type Endpoint } from './client.ts';
import { normalizeName } from './records.ts';
import type { TsigKey } from './tsig.ts';

export interface PublishResult {
  service: string;
  site: string;
  epoch: number;
  /** Where the change was verified, and when it became visible there (ISO time). */
  verified: Array<{ server: string; at: string }>;
  /** The longest a client may still hold the previous answer, in seconds (for RTO estimates). */
  max_cached_ttl: number;
}

export interface LiveState {
  service: string;
  site: string | undefined;
  epoch: number;
  ttl?: number;
  /** The longest a client may still answer from its cache, in seconds from now. */
  max_cached?: number;
  /** Per server, when several are asked: they should agree. */
  servers?: Array<{ server: string; site?: string; epoch?: number; error?: string }>;
}

export interface Publisher {
  readonly kind: string;
  publish(service: string, site: string, opts?: { epoch?: number; signal?: AbortSignal }): Promise<PublishResult>;
  current(service: string): Promise<LiveState>;
}

export function endpointName(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** `_epoch.<service>` TXT as served by a Lifeboat server (or written next to a service in BIND). */
export function parseEpochTxt(strings: string[]): { site?: string; epoch?: number; ttl?: number; max_cached?: number } {
  const kv = Object.fromEntries(strings.map((s) => s.split('=', 2) as [string, string]));
  return {
    ...(kv['site'] ? { site: kv['site'] } : {}),
    ...(kv['epoch'] !== undefined && Number.isSafeInteger(Number(kv['epoch'])) ? { epoch: Number(kv['epoch']) } : {}),
    ...(kv['ttl'] !== undefined ? { ttl: Number(kv['ttl']) } : {}),
    ...(kv['max_cached'] !== undefined ? { max_cached: Number(kv['max_cached']) } : {}),
  };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > until) throw new LifeboatError('SOURCE', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    if (signal?.aborted) throw new LifeboatError('ABORTED', 'interrupted');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Lifeboat's own servers: publish through one (signed with the control key), verify on all. */
export class BuiltinPublisher implements Publisher {
  readonly kind = 'builtin';
  readonly #servers: Endpoint[];
  readonly #key: TsigKey;
  readonly #zoneOf: (service: string) => string;
  readonly #timeoutMs: number;

  constructor(opts: { servers: Endpoint[]; controlKey: TsigKey; zoneOf: (service: string) => string; timeoutMs?: number }) {
    if (opts.servers.length === 0) throw new LifeboatError('CONFIG', 'no built-in DNS server to publish to');
    this.#servers = opts.servers;
    this.#key = opts.controlKey;
    this.#zoneOf = opts.zoneOf;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async current(service: string): Promise<LiveState> {
    const name = normalizeName(service);
    const servers = await Promise.all(
      this.#servers.map(async (ep) => {
        try {
          const r = await query(ep, `_epoch.${name}`, 'TXT', { timeoutMs: 2000 });
          if (r.rcode !== 0) return { server: endpointName(ep), error: r.rcodeName };
          const e = parseEpochTxt(txtStrings(r)[0] ?? []);
          return { server: endpointName(ep), ...e };
        } catch (err) {
          return { server: endpointName(ep), error: (err as Error).message };
        }
      }),
    );
    const best = servers.filter((s) => 'epoch' in s && s.epoch !== undefined).sort((a, b) => ((b as { epoch: number }).epoch - (a as { epoch: number }).epoch))[0] as
      | { site?: string; epoch: number; ttl?: number; max_cached?: number }
      | undefined;
    return {
      service: name,
      site: best?.site,
      epoch: best?.epoch ?? -1,
      ...(best?.ttl !== undefined ? { ttl: best.ttl } : {}),
      ...(best?.max_cached !== undefined ? { max_cached: best.max_cached } : {}),
      servers,
    };
  }

  /** Lower (or, with undefined, restore) a service's TTL ahead of a planned move. */
  async setTtl(service: string, ttl: number | undefined): Promise<LiveState> {
    const name = normalizeName(service);
    const msg = dnsPacket.encode({
      type: 'query',
      id: randomInt(0, 65536),
      flags: 5 << 11,
      questions: [{ name: this.#zoneOf(name), type: 'SOA', class: 'IN' }],
      authorities: [{ name: `_lifeboat-ttl.${name}`, type: 'TXT', class: 'IN', ttl: 0, data: [`ttl=${ttl ?? 'default'}`] }],
    });
    let done = false;
    let last = '';
    for (const ep of this.#servers) {
      try {
        const r = await exchange(ep, msg, { key: this.#key, tcp: true, timeoutMs: 3000 });
        if (r.rcode !== 0) throw new LifeboatError('SOURCE', `changing the TTL of ${name} was refused by ${endpointName(ep)}: ${r.rcodeName}`);
        done = true;
        break;
      } catch (err) {
        if (err instanceof LifeboatError && /refused by/.test(err.message)) throw err;
        last = (err as Error).message;
      }
    }
    if (!done) throw new LifeboatError('SOURCE', `no built-in DNS server took the change (${last})`);
    return this.current(name);
  }

  async publish(service: string, site: string, opts: { epoch?: number; signal?: AbortSignal } = {}): Promise<PublishResult> {
    const name = normalizeName(service);
    const now = await this.current(name);
    if (now.epoch < 0) {
      throw new LifeboatError('SOURCE', `no built-in server answers for ${name}`, { hint: `is \`lifeboat dns serve\` running? asked: ${this.#servers.map(endpointName).join(', ')}` });
    }
    // Always an explicit epoch: a replay of this update is then stale and refused.
    const epoch = opts.epoch ?? now.epoch + 1;
    if (epoch <= now.epoch) {
      throw new LifeboatError('OUT_OF_RANGE', `stale change for ${name}: epoch ${epoch} is not above the current epoch ${now.epoch} (site ${now.site ?? '?'})`);
    }
    const zone = this.#zoneOf(name);
    const msg = dnsPacket.encode({
      type: 'query',
      id: randomInt(0, 65536),
      flags: 5 << 11,
      questions: [{ name: zone, type: 'SOA', class: 'IN' }],
      authorities: [{ name: `_lifeboat-publish.${name}`, type: 'TXT', class: 'IN', ttl: 0, data: [`site=${site}`, `epoch=${epoch}`] }],
    });
    let lastError = '';
    let sent = false;
    for (const ep of this.#servers) {
      try {
        const r = await exchange(ep, msg, { key: this.#key, tcp: true, timeoutMs: 3000 });
        if (r.rcode === 0) {
          sent = true;
          break;
        }
        const why = r.rcode === 7 ? `epoch ${epoch} is stale` : r.rcode === 8 ? `${name} or its site ${site} is not configured there` : r.rcodeName;
        throw new LifeboatError(r.rcode === 7 ? 'OUT_OF_RANGE' : 'SOURCE', `publishing ${name} → ${site} was refused by ${endpointName(ep)}: ${why}`, {
          hint: r.rcode === 9 ? `the control key ${this.#key.name} is not accepted there` : undefined,
        });
      } catch (err) {
        if (err instanceof LifeboatError && (err.code === 'OUT_OF_RANGE' || /refused by/.test(err.message))) throw err;
        lastError = (err as Error).message; // this server is down: try the next
      }
    }
    if (!sent) throw new LifeboatError('SOURCE', `no built-in DNS server took the change (${lastError})`);
    // Visible everywhere: every server answers with the new epoch (peers pull it).
    const verified = await Promise.all(
      this.#servers.map(async (ep) =>
        waitFor(
          `${endpointName(ep)} to serve epoch ${epoch} of ${name}`,
          async () => {
            const r = await query(ep, `_epoch.${name}`, 'TXT', { timeoutMs: 1000 });
            const e = parseEpochTxt(txtStrings(r)[0] ?? []);
            return e.epoch !== undefined && e.epoch >= epoch ? { server: endpointName(ep), at: new Date().toISOString() } : undefined;
          },
          this.#timeoutMs,
          opts.signal,
        ),
      ),
    );
    return { service: name, site, epoch, verified, max_cached_ttl: Math.max(now.ttl ?? 0, now.max_cached ?? 0) };
  }
}
