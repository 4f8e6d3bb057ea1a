/**
 * RFC 2136 dynamic updates to the built-in server, signed with TSIG (RFC 8945):
 *   zone section → the zone (NOTAUTH if not ours); signature → NOTAUTH with BADKEY / BADSIG (unsigned)
 *   or BADTIME (signed); a key not allowed for the zone → REFUSED; prerequisites (§2.4) → NXDOMAIN,
 *   YXDOMAIN, NXRRSET, YXRRSET; updates (§2.5) applied all or nothing. Names owned by a service are
 *   refused (they change with `lifeboat dns publish`), as is the apex's SOA and NS.
 * `_lifeboat-publish.<service>` TXT "site=S" ["epoch=N"], with the control key, publishes a site.
 * Nothing changes unless every check passes.
 */
import dnsPacket from 'dns-packet';
import { isIPv4, isIPv6 } from 'node:net';
import { LifeboatError } from '../core/index.ts';
import { normalizeName, inZone } from './records.ts';
import { encodeReply, questionOf } from './reply.ts';
import { appendTsigError, sign, TSIG_ERRORS, u48Buffer, type ServerKeys, type VerifyResult } from './tsig.ts';
import { CLASS_ANY, CLASS_IN, CLASS_NONE, Rcode, TYPE_ANY, TYPE_SOA, typeNames, type RawMessage, type RawRecord } from './wire.ts';
import type { Rr, ZoneStore } from './zone.ts';

/** What an update needs of the server that received it. */
export interface UpdateContext {
  readonly store: ZoneStore;
  readonly keys: ServerKeys;
  readonly stats: { refused: number; notauth: number };
  verifyTsig(msg: Buffer): VerifyResult;
  /** Whether this signed message was seen before; remembers it until `until` (seconds). */
  replayed(mac: Buffer, until: number): boolean;
  now(): number;
  log(event: Record<string, unknown>): void;
}

/** Types an update may add. */
const updatable = new Set(['A', 'AAAA', 'CNAME', 'TXT', 'SRV', 'MX', 'PTR']);

function decodeData(msg: Buffer, r: RawRecord, type: string): unknown {
  // dns-packet's record codecs read the 2-byte length before the data.
  const codec = (dnsPacket as unknown as { record: (t: string) => { decode: (buf: Buffer, offset: number) => unknown } }).record(type);
  const data = codec.decode(msg, r.rdata - 2);
  if (type === 'TXT') return (data as Buffer[]).map((b) => (Buffer.isBuffer(b) ? b.toString('latin1') : String(b)));
  if (type === 'CNAME' || type === 'PTR') return normalizeName(String(data));
  if (type === 'SRV') return { ...(data as object), target: normalizeName(String((data as { target: string }).target)) };
  if (type === 'MX') return { ...(data as object), exchange: normalizeName(String((data as { exchange: string }).exchange)) };
  return data;
}

/** Why a record an update adds is not sane, or undefined. */
function recordProblem(r: Rr): string | undefined {
  if (r.type === 'A' && !isIPv4(String(r.data))) return `${String(r.data)} is not an IPv4 address`;
  if (r.type === 'AAAA' && !isIPv6(String(r.data))) return `${String(r.data)} is not an IPv6 address`;
  if (r.ttl < 0 || r.ttl > 2 ** 31 - 1) return `TTL ${r.ttl}`;
  return undefined;
}

function sameData(a: Rr, b: Rr): boolean {
  return a.name === b.name && a.type === b.type && JSON.stringify(plainData(a.data)) === JSON.stringify(plainData(b.data));
}

/** TXT strings as served (Buffers) or as stored (latin1 strings) compare alike. */
function plainData(d: unknown): unknown {
  return Array.isArray(d) ? d.map((x) => (Buffer.isBuffer(x) ? x.toString('latin1') : x)) : d;
}

class UpdateFailure extends Error {
  constructor(readonly rcode: number, message: string) {
    super(message);
  }
}

export function handleUpdate(server: UpdateContext, msg: Buffer, raw: RawMessage): Buffer {
  const id = raw.id;
  const q = raw.qd[0];
  const question = q ? questionOf(q) : undefined;
  const plain = (rcode: number): Buffer => encodeReply(id, 0, rcode, question, [], [], [], 5);
  if (raw.qd.length !== 1 || q!.type !== TYPE_SOA) return plain(Rcode.FORMERR);
  const zone = server.store.zones.find((z) => z.name === q!.name);
  if (!zone) {
    server.log({ event: 'update-refused', zone: q!.name, reason: 'not a zone of this server' });
    return plain(Rcode.NOTAUTH);
  }
  const v = server.verifyTsig(msg);
  if (!v.ok) {
    if (!v.tsig) {
      server.stats.refused++;
      server.log({ event: 'update-refused', zone: zone.name, reason: 'not signed' });
      return plain(Rcode.REFUSED);
    }
    server.stats.notauth++;
    server.log({ event: 'update-refused', zone: zone.name, key: v.tsig.keyName, reason: v.reason });
    if (v.error === TSIG_ERRORS.BADTIME && v.key) {
      return sign(plain(Rcode.NOTAUTH), v.key, { now: server.now(), requestMac: v.tsig.mac, error: TSIG_ERRORS.BADTIME, other: u48Buffer(server.now()) }).message;
    }
    return appendTsigError(plain(Rcode.NOTAUTH), v.tsig.keyName, v.tsig.algorithm, server.now(), v.error);
  }
  const key = v.key;
  const reply = (rcode: number): Buffer => sign(plain(rcode), key, { now: server.now(), requestMac: v.tsig.mac }).message;
  if (server.replayed(v.tsig.mac, v.tsig.timeSigned + v.tsig.fudge + 1)) {
    server.stats.refused++;
    server.log({ event: 'update-refused', zone: zone.name, key: key.name, reason: 'replayed (the same signed update seen before)' });
    return reply(Rcode.REFUSED);
  }
  const isControl = key.name === server.keys.control;
  const mayUpdate = (server.keys.update[zone.name] ?? []).includes(key.name);
  try {
    const records = server.store.records(zone.name);
    // Prerequisites (RFC 2136 §3.2).
    const valueDependent = new Map<string, Rr[]>();
    for (const r of raw.an) {
      if (!inZone(r.name, zone.name)) throw new UpdateFailure(Rcode.NOTZONE, `${r.name} is outside ${zone.name}`);
      if (r.ttl !== 0) throw new UpdateFailure(Rcode.FORMERR, 'prerequisite with a TTL');
      const type = typeNames[r.type];
      const at = records.filter((x) => x.name === r.name);
      if (r.klass === CLASS_ANY) {
        if (r.rdlength !== 0) throw new UpdateFailure(Rcode.FORMERR, 'prerequisite with data');
        if (r.type === TYPE_ANY) {
          if (at.length === 0) throw new UpdateFailure(Rcode.NXDOMAIN, `${r.name} does not exist`);
        } else if (!at.some((x) => x.type === type)) throw new UpdateFailure(Rcode.NXRRSET, `${r.name} ${type} does not exist`);
      } else if (r.klass === CLASS_NONE) {
        if (r.rdlength !== 0) throw new UpdateFailure(Rcode.FORMERR, 'prerequisite with data');
        if (r.type === TYPE_ANY) {
          if (at.length > 0) throw new UpdateFailure(Rcode.YXDOMAIN, `${r.name} exists`);
        } else if (at.some((x) => x.type === type)) throw new UpdateFailure(Rcode.YXRRSET, `${r.name} ${type} exists`);
      } else if (r.klass === CLASS_IN) {
        if (!type || !updatable.has(type)) throw new UpdateFailure(Rcode.FORMERR, `prerequisite of type ${r.type}`);
        const k = `${r.name}/${type}`;
        const list = valueDependent.get(k) ?? [];
        list.push({ name: r.name, type, ttl: 0, data: decodeData(msg, r, type) });
        valueDependent.set(k, list);
      } else throw new UpdateFailure(Rcode.FORMERR, `prerequisite class ${r.klass}`);
    }
    for (const [k, want] of valueDependent) {
      const [name, type] = k.split('/') as [string, string];
      const have = records.filter((x) => x.name === name && x.type === type);
      const same = have.length === want.length && want.every((w) => have.some((h) => sameData(h, w)));
      if (!same) throw new UpdateFailure(Rcode.NXRRSET, `${name} ${type} is not what the prerequisite says`);
    }
    // Updates (RFC 2136 §3.4): checked first, then applied to a copy.
    let dynamic = [...server.store.dynamic(zone.name).records];
    const publishes: Array<{ service: string; site: string; epoch?: number }> = [];
    const ttls: Array<{ service: string; ttl: number | undefined }> = [];
    for (const r of raw.ns) {
      if (!inZone(r.name, zone.name)) throw new UpdateFailure(Rcode.NOTZONE, `${r.name} is outside ${zone.name}`);
      const type = typeNames[r.type];
      if (r.name.startsWith('_lifeboat-publish.') && r.klass === CLASS_IN && type === 'TXT') {
        if (!isControl) throw new UpdateFailure(Rcode.REFUSED, `key ${key.name} may not publish`);
        const strings = decodeData(msg, r, 'TXT') as string[];
        const kv = Object.fromEntries(strings.map((s) => s.split('=', 2) as [string, string]));
        const epoch = kv['epoch'] === undefined ? undefined : Number(kv['epoch']);
        if (!kv['site'] || (epoch !== undefined && !Number.isSafeInteger(epoch))) throw new UpdateFailure(Rcode.FORMERR, 'publish needs site=NAME');
        publishes.push({ service: r.name.slice('_lifeboat-publish.'.length), site: kv['site'], ...(epoch !== undefined ? { epoch } : {}) });
        continue;
      }
      if (r.name.startsWith('_lifeboat-ttl.') && r.klass === CLASS_IN && type === 'TXT') {
        if (!isControl) throw new UpdateFailure(Rcode.REFUSED, `key ${key.name} may not change TTLs`);
        const v = (decodeData(msg, r, 'TXT') as string[]).join('').replace(/^ttl=/, '');
        const ttl = v === 'default' ? undefined : Number(v);
        if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > 86400)) throw new UpdateFailure(Rcode.FORMERR, 'ttl=N (0..86400) or ttl=default');
        ttls.push({ service: r.name.slice('_lifeboat-ttl.'.length), ttl });
        continue;
      }
      if (!mayUpdate) throw new UpdateFailure(Rcode.REFUSED, `key ${key.name} may not update ${zone.name}`);
      if (server.store.ownedByService(r.name) || r.name === zone.name) {
        throw new UpdateFailure(Rcode.REFUSED, `${r.name} is managed by Lifeboat (lifeboat dns publish), not by updates`);
      }
      // The zone's own name servers (and their addresses): rewriting them would take the zone away.
      if (zone.ns.map(normalizeName).includes(r.name) || Object.keys(zone.glue ?? {}).map(normalizeName).includes(r.name)) {
        throw new UpdateFailure(Rcode.REFUSED, `${r.name} is a name server of ${zone.name}, not changed by updates`);
      }
      if (r.klass === CLASS_IN) {
        if (!type || !updatable.has(type)) throw new UpdateFailure(Rcode.REFUSED, `updates of type ${type ?? r.type} are not supported`);
        const rr: Rr = { name: r.name, type, ttl: r.ttl, data: decodeData(msg, r, type) };
        const problem = recordProblem(rr);
        if (problem) throw new UpdateFailure(Rcode.FORMERR, `${r.name} ${type}: ${problem}`);
        // Static records (the apex, glue, services) count too: a CNAME never stands beside anything.
        const others = [...dynamic, ...records.filter((x) => !dynamic.includes(x))].filter((x) => x.name === r.name);
        if (type === 'CNAME' ? others.some((x) => x.type !== 'CNAME') : others.some((x) => x.type === 'CNAME')) continue; // RFC 2136 §3.4.2.2: ignored
        if (type === 'CNAME') dynamic = dynamic.filter((x) => !(x.name === r.name && x.type === 'CNAME'));
        dynamic = dynamic.filter((x) => !sameData(x, rr));
        // One TTL per RRset: the new one applies to all.
        dynamic = dynamic.map((x) => (x.name === r.name && x.type === type ? { ...x, ttl: r.ttl } : x));
        dynamic.push(rr);
      } else if (r.klass === CLASS_ANY) {
        if (r.ttl !== 0 || r.rdlength !== 0) throw new UpdateFailure(Rcode.FORMERR, 'delete with data');
        dynamic = dynamic.filter((x) => !(x.name === r.name && (r.type === TYPE_ANY || x.type === type)));
      } else if (r.klass === CLASS_NONE) {
        if (r.ttl !== 0 || !type) throw new UpdateFailure(Rcode.FORMERR, 'bad delete');
        const rr: Rr = { name: r.name, type, ttl: 0, data: decodeData(msg, r, type) };
        dynamic = dynamic.filter((x) => !sameData(x, rr));
      } else throw new UpdateFailure(Rcode.FORMERR, `update class ${r.klass}`);
    }
    // All or nothing (RFC 2136 §3.4): every publish and TTL change is checked before any is made.
    server.store.checkChanges(publishes, ttls);
    for (const p of publishes) server.store.publish(p.service, p.site, p.epoch);
    for (const x of ttls) server.store.setTtl(x.service, x.ttl);
    const before = JSON.stringify(server.store.dynamic(zone.name).records);
    if (JSON.stringify(dynamic) !== before) server.store.setDynamic(zone.name, dynamic);
    server.log({ event: 'update', zone: zone.name, key: key.name, changes: raw.ns.length });
    return reply(Rcode.NOERROR);
  } catch (err) {
    if (err instanceof UpdateFailure) {
      server.log({ event: 'update-failed', zone: zone.name, key: key.name, reason: err.message });
      return reply(err.rcode);
    }
    if (err instanceof LifeboatError) {
      // A stale epoch or an unknown service/site: nothing changed.
      server.log({ event: 'publish-refused', zone: zone.name, key: key.name, reason: err.message });
      return reply(err.code === 'OUT_OF_RANGE' ? Rcode.YXRRSET : Rcode.NXRRSET);
    }
    return reply(Rcode.SERVFAIL);
  }
}
