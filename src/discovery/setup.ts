/**
 * Building the discovery parts from settings (the `dns` section of lifeboat.yaml, as src/config reads
 * it): the zone store, the server's keys, the servers with their peers' sync as one service, and the
 * publishers `dns publish` uses.
 */
import { LifeboatError, ServiceGroup, systemClock, type Clock } from '../core/index.ts';
import { AddressPublisher } from './address.ts';
import type { Endpoint } from './client.ts';
import { BuiltinPublisher, type Publisher } from './publisher.ts';
import { validateAnswers, type ServiceDef, type ZoneDef } from './records.ts';
import { Rfc2136Publisher } from './rfc2136.ts';
import type { ServerKeys } from './tsig.ts';
import { parseKey, type TsigKey } from './tsig.ts';
import { DnsServer } from './server.ts';
import { PeerSync } from './sync.ts';
import { ZoneStore } from './zone.ts';

export interface DiscoverySettings {
  listen: Endpoint[];
  state?: string;
  keys: Map<string, { name: string; algorithm: string; secret: string }>;
  control_key?: string;
  transfer_key?: string;
  peers: Endpoint[];
  sync_interval_ms: number;
  zones: Array<{ name: string; ns: string[]; hostmaster: string; soa: ZoneDef['soa']; glue: NonNullable<ZoneDef['glue']>; update_keys: string[] }>;
  services: ServiceDef[];
  publishers: Array<
    | { kind: 'builtin'; servers: Endpoint[] }
    | { kind: 'rfc2136'; server: Endpoint; zone: string; key: string; services: string[]; state?: string }
    | { kind: 'address'; interface: string; netns?: string; services: Record<string, string>; state?: string }
  >;
}

export function tsigKeys(s: DiscoverySettings): Map<string, TsigKey> {
  return new Map([...s.keys.values()].map((k) => [k.name, parseKey(k.name, k.algorithm, k.secret)]));
}

export function zoneStore(s: DiscoverySettings, opts: { stateFile?: string } = {}): ZoneStore {
  for (const svc of s.services) for (const [site, a] of Object.entries(svc.sites)) validateAnswers(svc.name, site, a);
  const zones: ZoneDef[] = s.zones.map((z) => ({ name: z.name, ns: z.ns, rname: z.hostmaster, soa: z.soa, glue: z.glue }));
  const stateFile = opts.stateFile ?? s.state;
  return new ZoneStore(zones, s.services, stateFile ? { stateFile } : {});
}

export function serverKeys(s: DiscoverySettings): ServerKeys {
  return {
    update: Object.fromEntries(s.zones.map((z) => [z.name, z.update_keys])),
    ...(s.control_key ? { control: s.control_key } : {}),
    ...(s.transfer_key ? { transfer: s.transfer_key } : {}),
    all: tsigKeys(s),
  };
}

/** The publishers of the configuration; without any, the built-in servers it listens on. */
export function publishers(s: DiscoverySettings, site: string | undefined): Publisher[] {
  const keys = tsigKeys(s);
  const zoneOf = (service: string): string => {
    const z = s.zones.find((x) => service === x.name || service.endsWith('.' + x.name));
    if (!z) throw new LifeboatError('CONFIG', `service ${service} is in none of the configured zones`);
    return z.name;
  };
  const specs = s.publishers.length ? s.publishers : [{ kind: 'builtin' as const, servers: s.listen }];
  return specs.map((p) => {
    if (p.kind === 'builtin') {
      if (!s.control_key) throw new LifeboatError('CONFIG', 'dns.control_key is needed to publish to the built-in servers');
      return new BuiltinPublisher({ servers: p.servers, controlKey: keys.get(s.control_key)!, zoneOf });
    }
    if (p.kind === 'rfc2136') {
      const services = s.services.filter((x) => p.services.includes(x.name));
      return new Rfc2136Publisher({ server: p.server, zone: p.zone, key: keys.get(p.key)!, services, ...(p.state ? { stateFile: p.state } : {}) });
    }
    if (!site) throw new LifeboatError('CONFIG', 'an address publisher needs this host\'s site: `site:` in the configuration or --site');
    return new AddressPublisher({
      site,
      interface: p.interface,
      ...(p.netns ? { netns: p.netns } : {}),
      services: Object.fromEntries(Object.entries(p.services).map(([k, v]) => [k, { address: v }])),
      ...(p.state ? { stateFile: p.state } : {}),
    });
  });
}

/**
 * The built-in servers of the configuration (one per listen address, one zone store) and, with peers, the
 * sync that pulls their state, as one service: `start` listens on every address or on none.
 */
export function discoveryService(s: DiscoverySettings, opts: { log?: (e: Record<string, unknown>) => void; clock?: Clock; stateFile?: string } = {}): { service: ServiceGroup; store: ZoneStore; servers: DnsServer[]; sync?: PeerSync } {
  // Everything checked before anything listens: a refusal after the servers started left them running.
  if (s.peers.length && !s.transfer_key) throw new LifeboatError('CONFIG', 'dns.peers needs dns.transfer_key: peers sign their pulls');
  const clock = opts.clock ?? systemClock;
  const store = zoneStore(s, opts.stateFile ? { stateFile: opts.stateFile } : {});
  const keys = serverKeys(s);
  const servers = s.listen.map((ep) => new DnsServer(store, { host: ep.host, port: ep.port, keys, clock, ...(opts.log ? { log: opts.log } : {}) }));
  const service = new ServiceGroup('dns', servers);
  let sync: PeerSync | undefined;
  if (s.peers.length) {
    sync = new PeerSync(servers[0]!, s.peers, keys.all.get(s.transfer_key!)!, { intervalMs: s.sync_interval_ms, clock, ...(opts.log ? { log: opts.log } : {}) });
    service.add(sync);
  }
  return { service, store, servers, ...(sync ? { sync } : {}) };
}
