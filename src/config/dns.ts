/**
 * `dns:` — service discovery: the built-in DNS servers, their TSIG keys, zones, services with each site's
 * answers, peers and publishers. Read into discovery's own `DiscoverySettings`, so there is no second copy
 * of its shape. Key secrets come inline or from `secret_file` and are never printed.
 */
import { isIPv6 } from 'node:net';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DiscoverySettings } from '../discovery/index.ts';
import type { Path, Reader } from './reader.ts';

type KeyConfig = DiscoverySettings['keys'] extends Map<string, infer K> ? K : never;
type ZoneConfig = DiscoverySettings['zones'][number];
type ServiceConfig = DiscoverySettings['services'][number];
type SiteAnswersConfig = ServiceConfig['sites'][string];
type PublisherConfig = DiscoverySettings['publishers'][number];

const NAME = /^(?=.{1,253}$)([a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_])?\.)*[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?\.?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export function readDns(r: Reader, v: unknown, base: string): DiscoverySettings {
  const P = ['dns'];
  const d = r.map(v, P, ['listen', 'state', 'keys', 'control_key', 'transfer_key', 'peers', 'sync_interval_ms', 'zones', 'services', 'publishers']);
  const keys = new Map<string, KeyConfig>();
  if (d['keys'] !== undefined) {
    const km = r.map(d['keys'], [...P, 'keys'], Object.keys((d['keys'] as object) ?? {}));
    for (const [name, kv] of Object.entries(km)) {
      const kp = [...P, 'keys', name];
      const k = r.map(kv, kp, ['algorithm', 'secret', 'secret_file']);
      const algorithm = r.str(k['algorithm'] ?? 'hmac-sha256', [...kp, 'algorithm'], { pattern: /^hmac-sha(1|224|256|384|512)$/, what: 'hmac-sha256 (or -sha512, -sha384, -sha224, -sha1)' });
      let secret: string;
      if (k['secret_file'] !== undefined) {
        const f = resolve(base, r.str(k['secret_file'], [...kp, 'secret_file']));
        try {
          secret = readFileSync(f, 'utf8').trim();
        } catch (err) {
          r.fail([...kp, 'secret_file'], `cannot read ${f}: ${(err as Error).message}`);
        }
      } else secret = r.str(k['secret'], [...kp, 'secret'], { what: 'a base64 secret (tsig-keygen makes one)' });
      if (!/^[A-Za-z0-9+/]+=*$/.test(secret) || Buffer.from(secret, 'base64').length < 16) r.fail([...kp, k['secret_file'] !== undefined ? 'secret_file' : 'secret'], 'expected base64 of at least 16 bytes');
      keys.set(name.toLowerCase(), { name: name.toLowerCase(), algorithm, secret });
    }
  }
  const keyRef = (x: unknown, p: Path): string => {
    const n = r.str(x, p).toLowerCase();
    if (!keys.has(n)) r.fail(p, `no key "${n}" under dns.keys`);
    return n;
  };
  const zones = r.list(
    d['zones'],
    [...P, 'zones'],
    (z, zp) => {
      const m = r.map(z, zp, ['name', 'ns', 'hostmaster', 'soa', 'glue', 'update_keys']);
      const name = r.str(m['name'], [...zp, 'name'], { pattern: NAME, what: 'a domain name' }).toLowerCase().replace(/\.$/, '');
      const soa = m['soa'] === undefined ? {} : r.map(m['soa'], [...zp, 'soa'], ['refresh', 'retry', 'expire', 'minimum', 'ttl']);
      const glue: ZoneConfig['glue'] = {};
      if (m['glue'] !== undefined) {
        for (const [host, g] of Object.entries(r.map(m['glue'], [...zp, 'glue'], Object.keys(m['glue'] as object)))) {
          const gm = r.map(g, [...zp, 'glue', host], ['a', 'aaaa']);
          glue[host.toLowerCase()] = {
            a: r.list(gm['a'], [...zp, 'glue', host, 'a'], (x, p) => r.str(x, p, { pattern: IPV4, what: 'an IPv4 address' }), { optional: true }),
            aaaa: r.list(
              gm['aaaa'],
              [...zp, 'glue', host, 'aaaa'],
              (x, p) => {
                const v = r.str(x, p);
                if (!isIPv6(v)) r.fail(p, `"${v}" is not an IPv6 address`);
                return v;
              },
              { optional: true },
            ),
          };
        }
      }
      return {
        name,
        ns: r.list(m['ns'], [...zp, 'ns'], (x, p) => r.str(x, p, { pattern: NAME, what: 'a host name' }).toLowerCase().replace(/\.$/, ''), { nonEmpty: true }),
        hostmaster: r.str(m['hostmaster'] ?? `hostmaster.${name}`, [...zp, 'hostmaster'], { pattern: NAME, what: 'a mailbox as a name' }).toLowerCase(),
        soa: {
          refresh: r.int(soa['refresh'], [...zp, 'soa', 'refresh'], 3600, 1, 2 ** 31),
          retry: r.int(soa['retry'], [...zp, 'soa', 'retry'], 600, 1, 2 ** 31),
          expire: r.int(soa['expire'], [...zp, 'soa', 'expire'], 604800, 1, 2 ** 31),
          minimum: r.int(soa['minimum'], [...zp, 'soa', 'minimum'], 5, 0, 86400),
          ttl: r.int(soa['ttl'], [...zp, 'soa', 'ttl'], 60, 0, 86400),
        },
        glue,
        update_keys: r.list(m['update_keys'], [...zp, 'update_keys'], keyRef, { optional: true }),
      };
    },
    { optional: true },
  );
  const seenZones = new Map<string, number>();
  zones.forEach((z, i) => {
    if (seenZones.has(z.name)) r.fail([...P, 'zones', i, 'name'], `zone ${z.name} is given twice (names are case-insensitive)`);
    seenZones.set(z.name, i);
  });
  const seenServices = new Map<string, string>();
  const svcMap = d['services'] === undefined ? {} : r.map(d['services'], [...P, 'services'], Object.keys(d['services'] as object));
  const services: ServiceConfig[] = Object.entries(svcMap).map(([name, sv]) => {
    const sp = [...P, 'services', name];
    if (!NAME.test(name)) r.fail(sp, `"${name}" is not a domain name`);
    const m = r.map(sv, sp, ['ttl', 'sites']);
    const sites: ServiceConfig['sites'] = {};
    const siteMap = r.map(m['sites'], [...sp, 'sites'], Object.keys((m['sites'] as object) ?? {}));
    if (Object.keys(siteMap).length === 0) r.fail([...sp, 'sites'], 'expected at least one site');
    for (const [site, av] of Object.entries(siteMap)) {
      const ap = [...sp, 'sites', site];
      const a = r.map(av, ap, ['a', 'aaaa', 'cname', 'srv', 'txt']);
      const ans: SiteAnswersConfig = {};
      if (a['a'] !== undefined) ans.a = r.list(a['a'], [...ap, 'a'], (x, p) => r.str(x, p, { pattern: IPV4, what: 'an IPv4 address' }));
      if (a['aaaa'] !== undefined) {
        ans.aaaa = r.list(a['aaaa'], [...ap, 'aaaa'], (x, p) => {
          const v = r.str(x, p);
          if (!isIPv6(v)) r.fail(p, `"${v}" is not an IPv6 address`);
          return v;
        });
      }
      if (a['cname'] !== undefined) ans.cname = r.str(a['cname'], [...ap, 'cname'], { pattern: NAME, what: 'a domain name' });
      if (a['srv'] !== undefined) {
        ans.srv = r.list(a['srv'], [...ap, 'srv'], (x, p) => {
          const s = r.map(x, p, ['priority', 'weight', 'port', 'target']);
          return { priority: r.int(s['priority'], [...p, 'priority'], 10, 0, 65535), weight: r.int(s['weight'], [...p, 'weight'], 0, 0, 65535), port: r.int(s['port'], [...p, 'port'], undefined, 0, 65535), target: r.str(s['target'], [...p, 'target'], { pattern: NAME, what: 'a host name' }) };
        });
      }
      if (a['txt'] !== undefined) ans.txt = r.list(a['txt'], [...ap, 'txt'], (x, p) => (Array.isArray(x) ? r.list(x, p, (y, q) => r.str(y, q)) : [r.str(x, p)]));
      if (ans.cname && Object.keys(ans).length > 1) r.fail([...ap, 'cname'], 'a CNAME cannot stand beside other records');
      if (Object.keys(ans).length === 0) r.fail(ap, 'no answers (a, aaaa, cname, srv or txt)');
      sites[site] = ans;
    }
    const n = name.toLowerCase().replace(/\.$/, '');
    if (zones.length && !zones.some((z) => n === z.name || n.endsWith('.' + z.name))) r.fail(sp, `is in none of the zones (${zones.map((z) => z.name).join(', ')})`);
    // Names are case-insensitive: WWW.app.example and www.app.example are one service, given twice.
    if (seenServices.has(n)) r.fail(sp, `is the same name as service ${seenServices.get(n)} (names are case-insensitive)`);
    seenServices.set(n, name);
    return { name: n, ttl: r.int(m['ttl'], [...sp, 'ttl'], 5, 0, 86400), sites };
  });
  const publishers = r.list(
    d['publishers'],
    [...P, 'publishers'],
    (x, pp): PublisherConfig => {
      const kind = r.str((x as Record<string, unknown>)?.['kind'], [...pp, 'kind'], { pattern: /^(builtin|rfc2136|address)$/, what: 'builtin, rfc2136 or address' });
      if (kind === 'builtin') {
        const m = r.map(x, pp, ['kind', 'servers']);
        return { kind, servers: r.list(m['servers'], [...pp, 'servers'], (y, p) => r.endpoint(y, p, 53), { nonEmpty: true }) };
      }
      if (kind === 'rfc2136') {
        const m = r.map(x, pp, ['kind', 'server', 'zone', 'key', 'services', 'state']);
        return {
          kind,
          server: r.endpoint(m['server'], [...pp, 'server'], 53),
          zone: r.str(m['zone'], [...pp, 'zone'], { pattern: NAME, what: 'a zone name' }).toLowerCase(),
          key: keyRef(m['key'], [...pp, 'key']),
          services: r.list(m['services'], [...pp, 'services'], (y, p) => r.str(y, p).toLowerCase(), { nonEmpty: true }),
          ...(m['state'] !== undefined ? { state: resolve(base, r.str(m['state'], [...pp, 'state'])) } : {}),
        };
      }
      const m = r.map(x, pp, ['kind', 'interface', 'netns', 'services', 'state']);
      const sv = r.map(m['services'], [...pp, 'services'], Object.keys((m['services'] as object) ?? {}));
      const services: Record<string, string> = {};
      for (const [k, a] of Object.entries(sv)) services[k.toLowerCase()] = r.str(a, [...pp, 'services', k], { pattern: /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, what: 'an IPv4 address with a prefix length (198.51.100.100/24)' });
      return {
        kind: 'address',
        interface: r.str(m['interface'], [...pp, 'interface']),
        ...(m['netns'] !== undefined ? { netns: r.str(m['netns'], [...pp, 'netns']) } : {}),
        services,
        ...(m['state'] !== undefined ? { state: resolve(base, r.str(m['state'], [...pp, 'state'])) } : {}),
      };
    },
    { optional: true },
  );
  const peersChecked = (): Array<{ host: string; port: number }> => {
    const peers = r.list(d['peers'], [...P, 'peers'], (x, p) => r.endpoint(x, p, 53), { optional: true });
    if (peers.length > 0 && d['transfer_key'] === undefined) r.fail([...P, 'peers'], 'peers need dns.transfer_key: the servers sign the pulls of each other\'s state');
    return peers;
  };
  return {
    listen: r.list(d['listen'] === undefined ? ['127.0.0.1:53'] : typeof d['listen'] === 'string' ? [d['listen']] : d['listen'], [...P, 'listen'], (x, p) => r.endpoint(x, p, 53)),
    ...(d['state'] !== undefined ? { state: resolve(base, r.str(d['state'], [...P, 'state'])) } : {}),
    keys,
    ...(d['control_key'] !== undefined ? { control_key: keyRef(d['control_key'], [...P, 'control_key']) } : {}),
    ...(d['transfer_key'] !== undefined ? { transfer_key: keyRef(d['transfer_key'], [...P, 'transfer_key']) } : {}),
    peers: peersChecked(),
    sync_interval_ms: r.int(d['sync_interval_ms'], [...P, 'sync_interval_ms'], 1000, 50, 3_600_000),
    zones,
    services,
    publishers,
  };
}
