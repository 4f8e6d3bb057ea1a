/**
 * Service records: how users reach a service, with one set of answers per site, and the live state that
 * says which site's answers are served. Every change carries an epoch that only grows (per service):
 * a change with an epoch not above the current one is stale (a replay, or a late message from an old
 * primary) and is refused. Servers that exchange state converge on the highest (epoch, site).
 */
import { isIPv6 } from 'node:net';
import { LifeboatError } from '../core/index.ts';

export interface SrvAnswer {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** One site's answers for a service. A CNAME excludes the other types. */
export interface SiteAnswers {
  a?: string[];
  aaaa?: string[];
  cname?: string;
  srv?: SrvAnswer[];
  txt?: string[][];
}

export interface ServiceDef {
  /** Fully qualified name, lowercase, no trailing dot (www.app.example). */
  name: string;
  /** TTL of its answers in seconds (default 5). */
  ttl: number;
  sites: Record<string, SiteAnswers>;
}

export interface ZoneDef {
  name: string;
  /** Name servers of the zone (NS records at the apex); the first is the SOA's primary. */
  ns: string[];
  /** The responsible mailbox, as a name (hostmaster.app.example). */
  rname: string;
  soa: { refresh: number; retry: number; expire: number; minimum: number; ttl: number };
  /** Addresses of the name servers that live inside the zone (glue). */
  glue?: Record<string, { a?: string[]; aaaa?: string[] }>;
}

/**
 * What is live for one service. Which site is live and the TTL in force are two things, each with its own
 * counter, merged separately: a TTL change never decides which site is live (at the same epoch it used to
 * outrank a publish made elsewhere during a partition, and undo a failover when it healed).
 */
export interface ServiceState {
  site: string;
  /** Grows with every publish (a change of live site). */
  epoch: number;
  /** When the change was made (ISO time), at the server that made it. */
  changed: string;
  /** A TTL in force instead of the configured one (lowered ahead of a planned move). */
  ttl?: number;
  /** Grows with every TTL change; the highest wins when servers merge. */
  ttl_epoch?: number;
  /** The largest TTL any client may still be caching, and until when (ISO time). */
  cached_ttl?: number;
  cached_until?: string;
}

export const DEFAULT_TTL = 5;

/**
 * The largest epoch accepted. Far beyond any real count of changes, and well inside the integers a JSON
 * number holds exactly: at 2^53 - 1 the next epoch could not be written, and the service was stuck.
 */
export const MAX_EPOCH = 2 ** 48;

export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith('.' + zone);
}

/** (epoch, site) order: higher wins, so servers that merge states agree. */
export function newer(a: Pick<ServiceState, 'epoch' | 'site'>, b: Pick<ServiceState, 'epoch' | 'site'> | undefined): boolean {
  if (!b) return true;
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.site > b.site);
}

export function staleEpoch(service: string, epoch: number, current: ServiceState): LifeboatError {
  return new LifeboatError('OUT_OF_RANGE', `stale change for ${service}: epoch ${epoch} is not above the current epoch ${current.epoch} (site ${current.site})`, {
    hint: 'a newer change is already live; publish with a higher epoch (or none, to take the next one)',
    context: { service, epoch, current_epoch: current.epoch, current_site: current.site },
  });
}

const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export function validateAnswers(service: string, site: string, a: SiteAnswers): void {
  const bad = (what: string): never => {
    throw new LifeboatError('CONFIG', `service ${service}, site ${site}: ${what}`);
  };
  if (a.cname && (a.a?.length || a.aaaa?.length || a.srv?.length || a.txt?.length)) bad('a CNAME cannot stand beside other records');
  for (const ip of a.a ?? []) if (!ipv4.test(ip)) bad(`${ip} is not an IPv4 address`);
  for (const ip of a.aaaa ?? []) if (!isIPv6(ip)) bad(`${ip} is not an IPv6 address`);
  for (const s of a.srv ?? []) {
    for (const k of ['priority', 'weight', 'port'] as const) if (!Number.isInteger(s[k]) || s[k] < 0 || s[k] > 65535) bad(`SRV ${k} ${s[k]} is not 0..65535`);
  }
  for (const t of a.txt ?? []) for (const str of t) if (Buffer.byteLength(str) > 255) bad('a TXT string is longer than 255 bytes');
  if (!a.cname && !a.a?.length && !a.aaaa?.length && !a.srv?.length && !a.txt?.length) bad('no answers');
}
