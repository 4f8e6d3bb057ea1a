/**
 * Built-in servers of several sites serving one zone converge by pulling each other's state: every
 * interval (and at once when asked) a server sends each peer a TSIG-signed query for
 * `_lifeboat-state.<zone>` TXT over TCP; the peer answers, signed, with each service's live site and epoch
 * and the zone's updated records; anything newer (higher epoch; higher version) is adopted. Stale state
 * never wins, so a site that comes back with old state is corrected, not obeyed.
 */
import dnsPacket from 'dns-packet';
import { stopOnAbort, systemClock, type Clock, type Health, type Service } from '../core/index.ts';
import { randomInt } from 'node:crypto';
import { exchange, txtStrings, type Endpoint } from './client.ts';
import type { ServiceState } from './records.ts';
import type { DnsServer } from './server.ts';
import type { TsigKey } from './tsig.ts';
import type { DynamicRecords } from './zone.ts';

export interface PeerStatus {
  peer: string;
  ok: boolean;
  error?: string;
  adopted: number;
  at: string;
}

export interface PeerSyncOptions {
  /** Between pulls (default 1 s). */
  intervalMs?: number;
  log?: (e: Record<string, unknown>) => void;
  clock?: Clock;
}

export class PeerSync implements Service {
  readonly name = 'peer-sync';
  readonly #server: DnsServer;
  readonly #peers: Endpoint[];
  readonly #key: TsigKey;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #cancelTimer: (() => void) | undefined;
  #stopped = false;
  #running: Promise<void> | undefined;
  readonly status = new Map<string, PeerStatus>();

  constructor(server: DnsServer, peers: Endpoint[], key: TsigKey, opts: PeerSyncOptions = {}) {
    this.#server = server;
    this.#peers = peers;
    this.#key = key;
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#log = opts.log ?? ((e) => server.log(e));
    this.#clock = opts.clock ?? systemClock;
  }

  readonly #log: (e: Record<string, unknown>) => void;

  /** Record a peer's status; a change (now failing, failing otherwise, working again) is logged once. */
  #setStatus(st: PeerStatus): void {
    const before = this.status.get(st.peer);
    if (!st.ok && (before?.ok !== false || before.error !== st.error)) this.#log({ event: 'sync-failing', peer: st.peer, error: st.error });
    if (st.ok && before?.ok === false) this.#log({ event: 'sync-working', peer: st.peer });
    this.status.set(st.peer, st);
  }

  /** Pulls every interval until stopped (the first pull one interval from now). */
  start(signal?: AbortSignal): Promise<void> {
    this.#stopped = false;
    const tick = (): void => {
      if (this.#stopped) return;
      this.#cancelTimer = this.#clock.setTimer(this.#intervalMs, () => void this.pullOnce().finally(tick));
    };
    tick();
    if (signal) stopOnAbort(signal, this);
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    await this.#running;
  }

  health(): Health {
    const failing = [...this.status.values()].filter((s) => !s.ok);
    return failing.length ? { ok: false, detail: failing.map((f) => `${f.peer}: ${f.error}`).join('; ') } : { ok: true, peers: this.#peers.length };
  }

  /** Pull from every peer once. Never throws: a peer that is down is recorded in `status`. */
  async pullOnce(): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = (async () => {
      for (const peer of this.#peers) {
        for (const zone of this.#server.store.zones) await this.#pull(peer, zone.name);
      }
    })().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #pull(peer: Endpoint, zone: string): Promise<void> {
    const id = `${peer.host}:${peer.port}`;
    let adopted = 0;
    try {
      const msg = dnsPacket.encode({ type: 'query', id: randomInt(0, 65536), flags: 0, questions: [{ name: `_lifeboat-state.${zone}`, type: 'TXT', class: 'IN' }] });
      const ans = await exchange(peer, msg, { tcp: true, key: this.#key, timeoutMs: 3000 });
      if (ans.rcode !== 0) throw new Error(`answered ${ans.rcodeName}`);
      for (const strings of txtStrings(ans)) {
        // The character-strings are the bytes of UTF-8 JSON (txtStrings gives each byte as a latin1 char).
        const doc = JSON.parse(Buffer.from(strings.join(''), 'latin1').toString('utf8')) as ({ service: string } & ServiceState) | { dynamic: DynamicRecords };
        if ('dynamic' in doc) {
          if (this.#server.store.mergeDynamic(zone, doc.dynamic)) adopted++;
        } else {
          const { service, ...st } = doc;
          if (this.#server.store.merge(service, st)) adopted++;
        }
      }
      if (adopted) this.#server.log({ event: 'sync-adopted', peer: id, zone, changes: adopted });
      this.#setStatus({ peer: id, ok: true, adopted, at: new Date(this.#clock.now()).toISOString() });
    } catch (err) {
      this.#setStatus({ peer: id, ok: false, error: (err as Error).message, adopted, at: new Date(this.#clock.now()).toISOString() });
    }
  }
}
