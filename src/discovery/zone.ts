/**
 * The zones a built-in server is authoritative for, and their live contents: the apex (SOA, NS, glue),
 * every service's answers for its live site, an `_epoch.<service>` TXT record saying which site and epoch
 * are live, and records added by RFC 2136 updates. State (live sites, epochs, TTL overrides, updated
 * records) is kept in a JSON file written atomically, so a restarted server never goes back in epochs.
 *
 * The SOA serial is derived from the state (a base plus every service's epoch plus the version of the
 * updated records), so it grows with every change and servers that hold the same state give the same serial.
 */
import { readFileSync } from 'node:fs';
import { LifeboatError, systemClock, type Clock } from '../core/index.ts';
import { removeStaleTemps, writeState } from './state-file.ts';
import { inZone, MAX_EPOCH, newer, normalizeName, staleEpoch, DEFAULT_TTL, type ServiceDef, type ServiceState, type ZoneDef } from './records.ts';

/** A resource record as dns-packet encodes it. */
export interface Rr {
  name: string;
  type: string;
  class?: 'IN';
  ttl: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

export interface DynamicRecords {
  /** Grows with every applied update; the highest version wins when servers merge (ties: by content). */
  version: number;
  records: Rr[];
}

interface StateFile {
  services: Record<string, ServiceState>;
  dynamic: Record<string, DynamicRecords>;
}

const SERIAL_BASE = 1;

export class ZoneStore {
  readonly zones: ZoneDef[];
  readonly services: Map<string, ServiceDef>;
  readonly #clock: Clock;
  readonly #stateFile: string | undefined;
  #state: StateFile = { services: {}, dynamic: {} };
  /** Called after every change (the server notifies peers). */
  onChange?: () => void;

  constructor(zones: ZoneDef[], services: ServiceDef[], opts: { stateFile?: string; clock?: Clock; initialSites?: Record<string, string> } = {}) {
    this.zones = zones.map((z) => ({ ...z, name: normalizeName(z.name) })).sort((a, b) => b.name.length - a.name.length);
    this.services = new Map(services.map((s) => [normalizeName(s.name), { ...s, name: normalizeName(s.name) }]));
    for (const s of this.services.values()) {
      const zone = this.zoneOf(s.name);
      if (!zone) throw new LifeboatError('CONFIG', `service ${s.name} is in none of the zones (${this.zones.map((z) => z.name).join(', ')})`);
      // The apex holds the SOA and NS records, which a CNAME may not stand beside; a name server's name
      // must keep the addresses that lead to it.
      if (s.name === zone.name && Object.values(s.sites).some((a) => a.cname)) throw new LifeboatError('CONFIG', `service ${s.name} is the zone's apex: it cannot be a CNAME`);
      if (zone.ns.map(normalizeName).includes(s.name) || Object.keys(zone.glue ?? {}).map(normalizeName).includes(s.name)) {
        throw new LifeboatError('CONFIG', `service ${s.name} is a name server of ${zone.name}: choose another name`);
      }
    }
    this.#clock = opts.clock ?? systemClock;
    this.#stateFile = opts.stateFile;
    if (this.#stateFile) {
      removeStaleTemps(this.#stateFile);
      try {
        const parsed = JSON.parse(readFileSync(this.#stateFile, 'utf8')) as StateFile;
        if (parsed && typeof parsed === 'object' && parsed.services && parsed.dynamic) this.#state = parsed;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new LifeboatError('CORRUPT', `cannot read the DNS state file ${this.#stateFile}: ${(err as Error).message}`, {
            hint: 'it holds the live sites and epochs; restore it or remove it to start from the configured sites (epochs restart)',
          });
        }
      }
    }
    // Services without state start at their first site (or the one given), epoch 0.
    for (const s of this.services.values()) {
      if (this.#state.services[s.name]) continue;
      const site = opts.initialSites?.[s.name] ?? Object.keys(s.sites)[0];
      if (site) this.#state.services[s.name] = { site, epoch: 0, changed: new Date(0).toISOString() };
    }
  }

  zoneOf(name: string): ZoneDef | undefined {
    const n = normalizeName(name);
    return this.zones.find((z) => inZone(n, z.name));
  }

  state(service: string): ServiceState | undefined {
    return this.#state.services[normalizeName(service)];
  }

  allStates(): Record<string, ServiceState> {
    return { ...this.#state.services };
  }

  dynamic(zone: string): DynamicRecords {
    return this.#state.dynamic[zone] ?? { version: 0, records: [] };
  }

  serial(zone: string): number {
    let s = SERIAL_BASE + this.dynamic(zone).version;
    for (const [name, st] of Object.entries(this.#state.services)) if (this.zoneOf(name)?.name === zone) s += st.epoch + (st.ttl_epoch ?? 0);
    return s % 2 ** 32;
  }

  /** Make `site` live for `service`. Without an epoch, the next one; a given epoch must be above the current. */
  publish(service: string, site: string, epoch?: number): ServiceState {
    const name = normalizeName(service);
    const def = this.services.get(name);
    if (!def) throw new LifeboatError('NOT_FOUND', `no service ${name}`, { hint: `configured: ${[...this.services.keys()].join(', ')}` });
    if (!def.sites[site]) throw new LifeboatError('NOT_FOUND', `service ${name} has no answers for site ${site}`, { hint: `its sites: ${Object.keys(def.sites).join(', ')}` });
    const cur = this.#state.services[name];
    const next = epoch ?? (cur?.epoch ?? 0) + 1;
    if (cur && next <= cur.epoch) throw staleEpoch(name, next, cur);
    if (!Number.isSafeInteger(next) || next > MAX_EPOCH) {
      throw new LifeboatError('USAGE', `epoch ${next} for ${name} is beyond the largest accepted (${MAX_EPOCH})`, { context: { service: name, epoch: next } });
    }
    const now = this.#clock.now();
    const ttl = this.ttlOf(name);
    const st: ServiceState = {
      site,
      epoch: next,
      changed: new Date(now).toISOString(),
      ...(cur?.ttl !== undefined ? { ttl: cur.ttl } : {}),
      ...(cur?.ttl_epoch !== undefined ? { ttl_epoch: cur.ttl_epoch } : {}),
      // Clients may hold the old answers for up to their TTL from now.
      cached_ttl: ttl,
      cached_until: new Date(now + ttl * 1000).toISOString(),
    };
    this.#state.services[name] = st;
    this.#changed();
    return st;
  }

  /**
   * Throw what `publish` and `setTtl` would for these changes, made in this order, without making any: an
   * update is applied whole or not at all.
   */
  checkChanges(publishes: ReadonlyArray<{ service: string; site: string; epoch?: number }>, ttls: ReadonlyArray<{ service: string }>): void {
    const epochs = new Map<string, ServiceState>();
    for (const p of publishes) {
      const name = normalizeName(p.service);
      const def = this.services.get(name);
      if (!def) throw new LifeboatError('NOT_FOUND', `no service ${name}`);
      if (!def.sites[p.site]) throw new LifeboatError('NOT_FOUND', `service ${name} has no answers for site ${p.site}`);
      const cur = epochs.get(name) ?? this.#state.services[name];
      const next = p.epoch ?? (cur?.epoch ?? 0) + 1;
      if (cur && next <= cur.epoch) throw staleEpoch(name, next, cur);
      if (!Number.isSafeInteger(next) || next > MAX_EPOCH) throw new LifeboatError('USAGE', `epoch ${next} for ${name} is beyond the largest accepted (${MAX_EPOCH})`);
      epochs.set(name, { site: p.site, epoch: next, changed: '' });
    }
    for (const t of ttls) {
      const name = normalizeName(t.service);
      if (!this.services.has(name) || !this.#state.services[name]) throw new LifeboatError('NOT_FOUND', `no service ${name}`);
    }
  }

  /** Set (or clear, with undefined) a TTL override for a service, ahead of a planned move. */
  setTtl(service: string, ttl: number | undefined): ServiceState {
    const name = normalizeName(service);
    const cur = this.#state.services[name];
    if (!cur || !this.services.has(name)) throw new LifeboatError('NOT_FOUND', `no service ${name}`);
    const before = this.ttlOf(name);
    const now = this.#clock.now();
    const { ttl: _old, ...rest } = cur;
    // The live site and its epoch stay as they are: a TTL change has its own counter.
    const st: ServiceState = {
      ...rest,
      ...(ttl !== undefined ? { ttl } : {}),
      ttl_epoch: (cur.ttl_epoch ?? 0) + 1,
      // Lowering the TTL only helps once the answers cached with the old TTL have expired.
      cached_ttl: before,
      cached_until: new Date(now + before * 1000).toISOString(),
    };
    this.#state.services[name] = st;
    this.#changed();
    return st;
  }

  ttlOf(service: string): number {
    const name = normalizeName(service);
    return this.#state.services[name]?.ttl ?? this.services.get(name)?.ttl ?? DEFAULT_TTL;
  }

  /** The longest time a client may still answer from a cache (seconds from now), over all services. */
  maxCachedSeconds(service?: string): number {
    const now = this.#clock.now();
    let worst = 0;
    for (const [name, st] of Object.entries(this.#state.services)) {
      if (service && normalizeName(service) !== name) continue;
      const current = this.ttlOf(name);
      const old = st.cached_until ? Math.max(0, (Date.parse(st.cached_until) - now) / 1000) : 0;
      worst = Math.max(worst, current, Math.ceil(old));
    }
    return worst;
  }

  /**
   * Adopt what is newer in a peer's state for a service: the live site by (epoch, site), the TTL by its
   * own epoch, each on its own. Returns whether anything changed.
   */
  merge(service: string, st: ServiceState): boolean {
    const name = normalizeName(service);
    const def = this.services.get(name);
    if (typeof st?.site !== 'string' || !Number.isSafeInteger(st.epoch) || st.epoch < 0 || st.epoch > MAX_EPOCH || typeof st.changed !== 'string') return false;
    const ttlEpoch = st.ttl_epoch ?? 0;
    if (!Number.isSafeInteger(ttlEpoch) || ttlEpoch < 0 || ttlEpoch > MAX_EPOCH || (st.ttl !== undefined && (!Number.isInteger(st.ttl) || st.ttl < 0 || st.ttl > 86400))) return false;
    if (!def || !def.sites[st.site]) return false; // not ours, or a site we have no answers for
    const cur = this.#state.services[name];
    const siteNewer = newer(st, cur);
    const ttlNewer = ttlEpoch > (cur?.ttl_epoch ?? 0);
    if (!siteNewer && !ttlNewer) return false;
    const base = siteNewer ? { site: st.site, epoch: st.epoch, changed: st.changed } : { site: cur!.site, epoch: cur!.epoch, changed: cur!.changed };
    const ttlFrom = ttlNewer ? st : cur;
    const cachedUntil = [st.cached_until, cur?.cached_until].filter((x): x is string => typeof x === 'string').sort().pop();
    const merged: ServiceState = {
      ...base,
      ...(ttlFrom?.ttl !== undefined ? { ttl: ttlFrom.ttl } : {}),
      ...(ttlFrom?.ttl_epoch !== undefined ? { ttl_epoch: ttlFrom.ttl_epoch } : {}),
      // Clients may cache the longest of what either side answered.
      ...(st.cached_ttl !== undefined || cur?.cached_ttl !== undefined ? { cached_ttl: Math.max(st.cached_ttl ?? 0, cur?.cached_ttl ?? 0) } : {}),
      ...(cachedUntil !== undefined ? { cached_until: cachedUntil } : {}),
    };
    this.#state.services[name] = merged;
    this.#changed();
    return true;
  }

  mergeDynamic(zone: string, d: DynamicRecords): boolean {
    if (!this.zones.some((z) => z.name === zone) || !Number.isSafeInteger(d?.version) || !Array.isArray(d.records)) return false;
    if (!d.records.every((r) => r && typeof r.name === 'string' && inZone(r.name, zone) && !this.ownedByService(r.name) && typeof r.type === 'string')) return false;
    const cur = this.dynamic(zone);
    if (d.version < cur.version || (d.version === cur.version && JSON.stringify(d.records) <= JSON.stringify(cur.records))) return false;
    this.#state.dynamic[zone] = d;
    this.#changed();
    return true;
  }

  setDynamic(zone: string, records: Rr[]): void {
    this.#state.dynamic[zone] = { version: this.dynamic(zone).version + 1, records };
    this.#changed();
  }

  /** Is this name owned by a service (or its status record)? Updates may not touch it. */
  ownedByService(name: string): boolean {
    const n = normalizeName(name);
    for (const s of this.services.keys()) if (n === s || n === `_epoch.${s}`) return true;
    return false;
  }

  /** Every record of a zone as served now. */
  records(zoneName: string): Rr[] {
    const zone = this.zones.find((z) => z.name === zoneName);
    if (!zone) return [];
    const out: Rr[] = [];
    const soa = zone.soa;
    out.push({
      name: zone.name,
      type: 'SOA',
      ttl: soa.ttl,
      data: { mname: zone.ns[0] ?? `ns.${zone.name}`, rname: zone.rname, serial: this.serial(zone.name), refresh: soa.refresh, retry: soa.retry, expire: soa.expire, minimum: soa.minimum },
    });
    for (const ns of zone.ns) out.push({ name: zone.name, type: 'NS', ttl: soa.ttl, data: ns });
    for (const [host, g] of Object.entries(zone.glue ?? {})) {
      for (const a of g.a ?? []) out.push({ name: normalizeName(host), type: 'A', ttl: soa.ttl, data: a });
      for (const a of g.aaaa ?? []) out.push({ name: normalizeName(host), type: 'AAAA', ttl: soa.ttl, data: a });
    }
    for (const def of this.services.values()) {
      if (this.zoneOf(def.name)?.name !== zone.name) continue;
      const st = this.#state.services[def.name];
      if (!st) continue;
      const ans = def.sites[st.site];
      const ttl = this.ttlOf(def.name);
      if (ans) {
        if (ans.cname) out.push({ name: def.name, type: 'CNAME', ttl, data: normalizeName(ans.cname) });
        for (const a of ans.a ?? []) out.push({ name: def.name, type: 'A', ttl, data: a });
        for (const a of ans.aaaa ?? []) out.push({ name: def.name, type: 'AAAA', ttl, data: a });
        for (const s of ans.srv ?? []) out.push({ name: def.name, type: 'SRV', ttl, data: { ...s, target: normalizeName(s.target) } });
        for (const t of ans.txt ?? []) out.push({ name: def.name, type: 'TXT', ttl, data: t.map((x) => Buffer.from(x, 'utf8')) });
      }
      out.push({
        name: `_epoch.${def.name}`,
        type: 'TXT',
        ttl: 0,
        data: [`site=${st.site}`, `epoch=${st.epoch}`, `changed=${st.changed}`, `ttl=${ttl}`, `max_cached=${this.maxCachedSeconds(def.name)}`],
      });
    }
    // Copies: the encoder turns TXT strings into Buffers in place, which must not reach the state (it did,
    // and the state file then held {"type":"Buffer"} objects). TXT strings are kept as latin1, one char a byte.
    for (const r of this.dynamic(zone.name).records) {
      out.push({ ...r, data: r.type === 'TXT' && Array.isArray(r.data) ? (r.data as string[]).map((x) => Buffer.from(String(x), 'latin1')) : structuredClone(r.data) });
    }
    return out;
  }

  #changed(): void {
    if (this.#stateFile) writeState(this.#stateFile, this.#state);
    this.onChange?.();
  }
}
