/**
 * Publishing to an external authoritative server (BIND, Knot, PowerDNS) with RFC 2136 dynamic updates
 * signed with TSIG. Each update carries prerequisites: the service's records (and its `_epoch` TXT) must
 * still be exactly what Lifeboat last wrote, so a record someone else changed is reported, never
 * overwritten. After the update, the server is asked and must answer with the new records.
 *
 * What Lifeboat last wrote is kept in a state file; without one (the first publish), the server's current
 * records are read and become the prerequisites, so a change between reading and updating is still caught.
 */
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { LifeboatError } from '../core/index.ts';
import { exchange, query, txtStrings, type Endpoint } from './client.ts';
import { endpointName, parseEpochTxt, type LiveState, type PublishResult, type Publisher } from './publisher.ts';
import { normalizeName, type ServiceDef, type SiteAnswers } from './records.ts';
import { readState, writeState } from './state-file.ts';
import { tsigErrorNames, type TsigKey } from './tsig.ts';
import { CLASS_ANY, CLASS_IN, CLASS_NONE, encodeName, rcodeNames, TYPE_SOA, typeNumbers } from './wire.ts';

/** The types a service's answers may have. */
const MANAGED = ['A', 'AAAA', 'CNAME', 'SRV', 'TXT'] as const;
type Managed = (typeof MANAGED)[number];

interface Written {
  site: string;
  epoch: number;
  /** Data per type as last written (normalized). */
  records: Partial<Record<Managed, unknown[]>>;
  epochTxt: string[] | undefined;
}

function recordCodec(type: string): { encode: (data: unknown) => Buffer } {
  return (dnsPacket as unknown as { record: (t: string) => { encode: (data: unknown) => Buffer } }).record(type);
}

/** One record in wire form; `rdata` undefined means empty RDATA (deletes and existence prerequisites). */
function rr(name: string, type: string, klass: number, ttl: number, data?: unknown): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(typeNumbers[type]!, 0);
  head.writeUInt16BE(klass, 2);
  head.writeUInt32BE(ttl, 4);
  // The codec writes the 2-byte length and the data. It turns TXT strings into Buffers in place: give it a copy.
  const copy = type === 'TXT' && Array.isArray(data) ? data.map((x: unknown) => (Buffer.isBuffer(x) ? x : Buffer.from(String(x), 'latin1'))) : data;
  const body = data === undefined ? Buffer.from([0, 0]) : recordCodec(type).encode(copy);
  return Buffer.concat([encodeName(name), head, body]);
}

function answersOf(a: SiteAnswers): Partial<Record<Managed, unknown[]>> {
  return {
    ...(a.a?.length ? { A: [...a.a] } : {}),
    ...(a.aaaa?.length ? { AAAA: [...a.aaaa] } : {}),
    ...(a.cname ? { CNAME: [normalizeName(a.cname)] } : {}),
    ...(a.srv?.length ? { SRV: a.srv.map((s) => ({ priority: s.priority, weight: s.weight, port: s.port, target: normalizeName(s.target) })) } : {}),
    ...(a.txt?.length ? { TXT: a.txt.map((t) => [...t]) } : {}),
  };
}

/** Comparable form of answer data (dns-packet decodes TXT as Buffers, AAAA in its own spelling). */
function norm(type: Managed, d: unknown): string {
  if (type === 'TXT') return JSON.stringify((d as Array<Buffer | string>).map((x) => (Buffer.isBuffer(x) ? x.toString('latin1') : String(x))));
  if (type === 'AAAA') return String(d).toLowerCase().replace(/(^|:)0+([0-9a-f])/g, '$1$2');
  if (type === 'CNAME') return normalizeName(String(d));
  if (type === 'SRV') {
    const s = d as { priority: number; weight: number; port: number; target: string };
    return `${s.priority} ${s.weight} ${s.port} ${normalizeName(s.target)}`;
  }
  return String(d);
}

function sameSet(type: Managed, a: unknown[] | undefined, b: unknown[] | undefined): boolean {
  const x = (a ?? []).map((d) => norm(type, d)).sort();
  const y = (b ?? []).map((d) => norm(type, d)).sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

export interface Rfc2136Options {
  server: Endpoint;
  zone: string;
  key: TsigKey;
  services: ServiceDef[];
  /** Where what Lifeboat last wrote is remembered (per service). */
  stateFile?: string;
  timeoutMs?: number;
}

export class Rfc2136Publisher implements Publisher {
  readonly kind = 'rfc2136';
  readonly #o: Rfc2136Options;
  readonly #services: Map<string, ServiceDef>;
  readonly #zone: string;

  constructor(opts: Rfc2136Options) {
    this.#o = opts;
    this.#zone = normalizeName(opts.zone);
    this.#services = new Map(opts.services.map((s) => [normalizeName(s.name), s]));
  }


  /** The records the server holds now for a service (and its epoch record). */
  async #read(name: string): Promise<Omit<Written, 'site' | 'epoch'> & { site?: string; epoch: number }> {
    const records: Partial<Record<Managed, unknown[]>> = {};
    for (const type of MANAGED) {
      const r = await query(this.#o.server, name, type, { timeoutMs: this.#o.timeoutMs ?? 3000 });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const data = (r.packet.answers ?? []).filter((a: any) => a.type === type && normalizeName(a.name) === name).map((a: any) => a.data as unknown);
      if (data.length) records[type] = type === 'TXT' ? data.map((t: unknown) => (t as Buffer[]).map((b) => (Buffer.isBuffer(b) ? b.toString('latin1') : String(b)))) : data;
    }
    const e = await query(this.#o.server, `_epoch.${name}`, 'TXT', { timeoutMs: this.#o.timeoutMs ?? 3000 });
    const epochTxt = txtStrings(e)[0];
    const parsed = parseEpochTxt(epochTxt ?? []);
    return { records, epochTxt, epoch: parsed.epoch ?? 0, ...(parsed.site ? { site: parsed.site } : {}) };
  }

  async current(service: string): Promise<LiveState> {
    const name = normalizeName(service);
    const r = await this.#read(name);
    const def = this.#services.get(name);
    // Which configured site's answers are live, if the epoch record does not say.
    const site = r.site ?? Object.entries(def?.sites ?? {}).find(([, a]) => MANAGED.every((t) => sameSet(t, answersOf(a)[t], r.records[t])))?.[0];
    return { service: name, site, epoch: r.epochTxt ? r.epoch : -1, servers: [{ server: endpointName(this.#o.server), ...(site ? { site } : {}), epoch: r.epoch }] };
  }

  async publish(service: string, site: string, opts: { epoch?: number; signal?: AbortSignal } = {}): Promise<PublishResult> {
    const name = normalizeName(service);
    const def = this.#services.get(name);
    if (!def) throw new LifeboatError('NOT_FOUND', `no service ${name}`, { hint: `configured: ${[...this.#services.keys()].join(', ')}` });
    const answers = def.sites[site];
    if (!answers) throw new LifeboatError('NOT_FOUND', `service ${name} has no answers for site ${site}`, { hint: `its sites: ${Object.keys(def.sites).join(', ')}` });
    if (!(name === this.#zone || name.endsWith('.' + this.#zone))) throw new LifeboatError('CONFIG', `service ${name} is not in zone ${this.#zone}`);
    const all = readState<Record<string, Written>>(this.#o.stateFile, {});
    const last: Written = all[name] ?? { ...(await this.#read(name)), site: '' };
    const epoch = opts.epoch ?? last.epoch + 1;
    if (epoch <= last.epoch) {
      throw new LifeboatError('OUT_OF_RANGE', `stale change for ${name}: epoch ${epoch} is not above the current epoch ${last.epoch}`, { hint: 'publish without --epoch to take the next one' });
    }
    const want = answersOf(answers);
    const ttl = def.ttl;
    const epochTxt = [`site=${site}`, `epoch=${epoch}`, `changed=${new Date().toISOString()}`, `ttl=${ttl}`];

    // Prerequisites: exactly what we last wrote (or found), type by type.
    const prereqs: Buffer[] = [];
    for (const type of MANAGED) {
      const had = last.records[type];
      if (had?.length) for (const d of had) prereqs.push(rr(name, type, CLASS_IN, 0, d));
      else prereqs.push(rr(name, type, CLASS_NONE, 0));
    }
    if (last.epochTxt) prereqs.push(rr(`_epoch.${name}`, 'TXT', CLASS_IN, 0, last.epochTxt));
    else prereqs.push(rr(`_epoch.${name}`, 'TXT', CLASS_NONE, 0));
    // Updates: replace every managed RRset, then the epoch record.
    const updates: Buffer[] = [];
    for (const type of MANAGED) {
      updates.push(rr(name, type, CLASS_ANY, 0));
      for (const d of want[type] ?? []) updates.push(rr(name, type, CLASS_IN, ttl, d));
    }
    updates.push(rr(`_epoch.${name}`, 'TXT', CLASS_ANY, 0), rr(`_epoch.${name}`, 'TXT', CLASS_IN, 0, epochTxt));

    const head = Buffer.alloc(12);
    head.writeUInt16BE(randomInt(0, 65536), 0);
    head.writeUInt16BE(5 << 11, 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(prereqs.length, 6);
    head.writeUInt16BE(updates.length, 8);
    const zoneQ = Buffer.concat([encodeName(this.#zone), Buffer.from([0, TYPE_SOA, 0, CLASS_IN])]);
    const msg = Buffer.concat([head, zoneQ, ...prereqs, ...updates]);
    const server = endpointName(this.#o.server);
    const r = await exchange(this.#o.server, msg, { key: this.#o.key, tcp: true, timeoutMs: this.#o.timeoutMs ?? 5000 });
    if (r.rcode !== 0) throw this.#updateError(r.rcode, r.tsigError, name, server);

    // Verify: the server answers with what we wrote.
    const now = await this.#read(name);
    for (const type of MANAGED) {
      if (!sameSet(type, now.records[type], want[type])) {
        throw new LifeboatError('SOURCE', `${server} accepted the update of ${name} but answers ${type} ${JSON.stringify(now.records[type] ?? [])}, not ${JSON.stringify(want[type] ?? [])}`, {
          hint: 'another writer may have changed it since; check the zone',
        });
      }
    }
    all[name] = { site, epoch, records: want, epochTxt };
    if (this.#o.stateFile) writeState(this.#o.stateFile, all);
    return { service: name, site, epoch, verified: [{ server, at: new Date().toISOString() }], max_cached_ttl: ttl };
  }

  #updateError(rcode: number, tsigError: number | undefined, name: string, server: string): LifeboatError {
    const rc = rcodeNames[rcode] ?? String(rcode);
    const zone = this.#zone;
    const key = this.#o.key.name;
    if (rcode === 9) {
      const why = tsigError ? `NOTAUTH(${tsigErrorNames[tsigError] ?? tsigError})` : 'NOTAUTH';
      return new LifeboatError('SOURCE', `${server} refused the update of zone ${zone} signed with key ${key}: ${why}`, {
        hint: `check that key ${key} (${this.#o.key.algorithm}) and its secret match the server's key statement, and that the server is authoritative for ${zone}`,
        context: { zone, key, server, rcode: rc },
      });
    }
    if (rcode === 5) {
      return new LifeboatError('SOURCE', `${server} refused the update of zone ${zone} with key ${key}: REFUSED`, {
        hint: `allow key ${key} to update ${zone} on the server (BIND: allow-update { key ${key}; };)`,
        context: { zone, key, server, rcode: rc },
      });
    }
    if (rcode === 10) return new LifeboatError('CONFIG', `${name} is not in zone ${zone} at ${server} (NOTZONE)`);
    if (rcode === 3 || rcode === 6 || rcode === 7 || rcode === 8) {
      return new LifeboatError('EXISTS', `the records of ${name} at ${server} are not what Lifeboat last wrote (${rc}): someone else changed them; nothing was overwritten`, {
        hint: 'look at the records (dig), then remove the Lifeboat state for this service or fix the records, and publish again',
        context: { zone, server, rcode: rc },
      });
    }
    return new LifeboatError('SOURCE', `${server} answered the update of zone ${zone} with ${rc}`, { context: { zone, key, server, rcode: rc } });
  }
}
