/**
 * The built-in authoritative DNS server: UDP and TCP, for the configured zones only (no recursion).
 *
 * - Answers from the ZoneStore: NXDOMAIN for names that do not exist, NODATA (NOERROR, SOA in authority)
 *   for names that exist without the asked type, CNAME answers followed inside the zone, AA set.
 * - EDNS0: an OPT record is echoed (our payload size 1232); UDP answers larger than the client's size
 *   (512 without EDNS) are truncated (TC set, records dropped) so the client retries over TCP.
 * - RFC 2136 updates signed with TSIG (update.ts); a special update publishes a service's site
 *   (`_lifeboat-publish.<service>`), with the control key only.
 * - Peers pull state with a TSIG-signed query for `_lifeboat-state.<zone>` TXT over TCP (sync.ts).
 * - Malformed packets are answered FORMERR when they have a header, otherwise dropped; nothing a client
 *   sends can throw out of a handler or change state without a valid signature.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import { errnoCode, LifeboatError, stopOnAbort, systemClock, type Clock, type Health, type Service } from '../core/index.ts';
import { inZone, normalizeName } from './records.ts';
import { sign, verify, type ServerKeys, type VerifyResult } from './tsig.ts';
import { handleUpdate, type UpdateContext } from './update.ts';
import { chunks, encodeReply, errorReply, questionOf } from './reply.ts';
import { parseRaw, Rcode, WireError, TYPE_OPT, typeNames, CLASS_IN, CLASS_ANY, TYPE_ANY, type RawMessage } from './wire.ts';
import type { Rr, ZoneStore } from './zone.ts';

export interface ServerOptions {
  /** Address to listen on (default 127.0.0.1) and port (default 53; 0 = any free port). */
  host?: string;
  port?: number;
  keys: ServerKeys;
  clock?: Clock;
  /** Called for events worth logging (never with secrets). */
  log?: (event: Record<string, unknown>) => void;
  /** TCP limits (defaults in TCP_LIMITS); tests lower them. */
  tcp?: Partial<typeof TCP_LIMITS>;
}

const OUR_UDP_SIZE = 1232;
/**
 * A TCP client may hold a connection this long without sending, this long in all (a client dripping a
 * byte every few seconds is never idle), and only so many are kept: beyond that the oldest is dropped, so
 * a flood of held connections cannot stop the server from answering new ones (RFC 7766 §6.2).
 */
const TCP_LIMITS = { idleMs: 10_000, lifetimeMs: 60_000, connections: 256 };

export class DnsServer implements UpdateContext, Service {
  readonly name: string;
  readonly store: ZoneStore;
  readonly #opts: ServerOptions;
  readonly #clock: Clock;
  #udp: UdpSocket | undefined;
  #tcp: TcpServer | undefined;
  readonly #conns = new Set<Socket>();
  /** Counters for tests and status. */
  readonly stats = { queries: 0, updates: 0, formerr: 0, refused: 0, notauth: 0, dropped: 0 };

  constructor(store: ZoneStore, opts: ServerOptions) {
    this.store = store;
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.name = `dns ${opts.host ?? '127.0.0.1'}:${opts.port ?? 53}`;
  }

  get port(): number {
    const a = this.#udp?.address();
    return a ? a.port : 0;
  }

  /**
   * Listens on UDP and TCP; resolves once both are bound. Aborting `signal` stops the server. With port 0
   * the UDP port is picked first and TCP takes the same number; if another process holds that TCP port,
   * another pair is tried.
   */
  async start(signal?: AbortSignal): Promise<void> {
    const port = this.#opts.port ?? 53;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#listen(port);
        break;
      } catch (err) {
        if (port !== 0 || attempt >= 20 || !(err instanceof LifeboatError && err.context['errno'] === 'EADDRINUSE')) throw err;
      }
    }
    if (signal) stopOnAbort(signal, this);
  }

  async #listen(port: number): Promise<void> {
    const host = this.#opts.host ?? '127.0.0.1';
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    udp.on('message', (msg, rinfo) => {
      const out = this.#safeHandle(msg, 'udp');
      if (out) udp.send(out, rinfo.port, rinfo.address);
    });
    udp.on('error', (err) => this.#opts.log?.({ event: 'udp-error', error: err.message }));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw listenError(err, 'UDP', host, port);
    }
    this.#udp = udp;
    const tcp = createServer((sock) => this.#serveTcp(sock));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(this.port, host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      const at = this.port || port;
      await this.stop();
      throw listenError(err, 'TCP', host, at);
    }
    this.#tcp = tcp;
  }

  health(): Health {
    return this.#udp && this.#tcp ? { ok: true, port: this.port, ...this.stats } : { ok: false, detail: 'not listening' };
  }

  /** Stop listening (idempotent). */
  async stop(): Promise<void> {
    for (const c of this.#conns) c.destroy();
    const udp = this.#udp;
    const tcp = this.#tcp;
    this.#udp = undefined;
    this.#tcp = undefined;
    await Promise.all([new Promise<void>((r) => (udp ? udp.close(() => r()) : r())), new Promise<void>((r) => (tcp ? tcp.close(() => r()) : r()))]);
  }

  #serveTcp(sock: Socket): void {
    const limits = { ...TCP_LIMITS, ...this.#opts.tcp };
    if (this.#conns.size >= limits.connections) {
      const oldest = this.#conns.values().next().value;
      if (oldest) {
        this.#conns.delete(oldest);
        oldest.destroy();
        this.#opts.log?.({ event: 'tcp-evicted', reason: `more than ${limits.connections} connections` });
      }
    }
    this.#conns.add(sock);
    sock.setTimeout(limits.idleMs, () => sock.destroy());
    const cancelLifetime = this.#clock.setTimer(limits.lifetimeMs, () => sock.destroy());
    sock.on('close', cancelLifetime);
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const out = this.#safeHandle(Buffer.from(msg), 'tcp');
        if (out) {
          const head = Buffer.alloc(2);
          head.writeUInt16BE(out.length, 0);
          sock.write(Buffer.concat([head, out]));
        }
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => this.#conns.delete(sock));
  }

  /** Never throws: a bug on one packet must not take the server down. */
  #safeHandle(msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    try {
      return this.handle(msg, transport);
    } catch (err) {
      this.#opts.log?.({ event: 'internal-error', error: (err as Error).message });
      return msg.length >= 12 ? errorReply(msg.readUInt16BE(0), 0, Rcode.SERVFAIL) : undefined;
    }
  }

  /** Answer one message (exported for tests and fuzzing). */
  handle(msg: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    if (msg.length < 12) {
      this.stats.dropped++;
      return undefined;
    }
    const id = msg.readUInt16BE(0);
    if (msg.readUInt16BE(2) & 0x8000) {
      this.stats.dropped++; // a response: never answer one (no reflection loops)
      return undefined;
    }
    let raw: RawMessage;
    try {
      raw = parseRaw(msg);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.stats.formerr++;
      return errorReply(id, (msg.readUInt16BE(2) >> 11) & 0xf, Rcode.FORMERR);
    }
    try {
      if (raw.opcode === 5) {
        this.stats.updates++;
        return handleUpdate(this, msg, raw);
      }
      if (raw.opcode !== 0) return errorReply(id, raw.opcode, Rcode.NOTIMP);
      this.stats.queries++;
      return this.#query(msg, raw, transport);
    } catch (err) {
      // Malformed inside: a TSIG or record data that does not parse.
      if (!(err instanceof WireError) && !(err instanceof RangeError)) throw err;
      this.stats.formerr++;
      return errorReply(id, raw.opcode, Rcode.FORMERR);
    }
  }

  /** Verify a message's TSIG against our keys. */
  verifyTsig(msg: Buffer, requestMac?: Buffer): VerifyResult {
    return verify(msg, (n) => this.#opts.keys.all.get(n), { now: this.#clock.now() / 1000, ...(requestMac ? { requestMac } : {}) });
  }

  /**
   * MACs of the updates taken, until their signature's time window (time signed ± fudge) has passed: an
   * update seen again within it is a replay (TSIG alone accepts one for the whole window) and is refused.
   */
  readonly #seenMacs = new Map<string, number>();

  /** Whether an update with this MAC was taken before (and remember it until `until`, seconds). */
  replayed(mac: Buffer, until: number): boolean {
    const now = this.now();
    for (const [k, t] of this.#seenMacs) if (t < now) this.#seenMacs.delete(k);
    const key = mac.toString('base64');
    if (this.#seenMacs.has(key)) return true;
    this.#seenMacs.set(key, until);
    return false;
  }

  get keys(): ServerKeys {
    return this.#opts.keys;
  }

  now(): number {
    return this.#clock.now() / 1000;
  }

  log(event: Record<string, unknown>): void {
    this.#opts.log?.(event);
  }

  #query(msg: Buffer, raw: RawMessage, transport: 'udp' | 'tcp'): Buffer {
    const id = raw.id;
    const rd = raw.flags & 0x0100;
    if (raw.qd.length !== 1) return errorReply(id, 0, Rcode.FORMERR);
    const q = raw.qd[0]!;
    const opt = raw.ar.find((r) => r.type === TYPE_OPT);
    if (raw.ar.filter((r) => r.type === TYPE_OPT).length > 1) return errorReply(id, 0, Rcode.FORMERR);
    const clientSize = opt ? Math.max(512, Math.min(opt.klass, 65535)) : 512;
    const maxSize = transport === 'tcp' ? 65535 : Math.min(clientSize, 4096);
    const question = questionOf(q);
    const additionals: Rr[] = opt ? [optRecord()] : [];
    // EDNS version (bits 16-23 of the OPT TTL): only 0 is spoken; a higher one gets BADVERS (RFC 6891 §6.1.3),
    // extended RCODE 16 = upper bits 1 in the OPT record, lower bits 0 in the header.
    if (opt && ((opt.ttl >>> 16) & 0xff) !== 0) {
      return encodeReply(id, rd, 0, question, [], [], [{ ...optRecord(), ...({ extendedRcode: 1 } as object) } as Rr]);
    }
    // Zone transfers are not offered (peers pull signed state instead): refused plainly, not half-answered.
    if (q.type === 252 || q.type === 251) {
      this.stats.refused++;
      return encodeReply(id, rd, Rcode.REFUSED, question, [], [], additionals);
    }
    let flags = rd;
    let rcode: number = Rcode.NOERROR;
    let answers: Rr[] = [];
    let authorities: Rr[] = [];

    // The peers' state pull: signed with the transfer key, over TCP.
    if (q.name.startsWith('_lifeboat-state.') && q.type === 16) {
      return this.#statePull(msg, raw, question, transport);
    }
    const zone = this.store.zoneOf(q.name);
    if (!zone || (q.klass !== CLASS_IN && q.klass !== CLASS_ANY)) {
      this.stats.refused++;
      rcode = Rcode.REFUSED;
    } else {
      flags |= dnsPacket.AUTHORITATIVE_ANSWER;
      const all = this.store.records(zone.name);
      const at = (name: string): Rr[] => all.filter((r) => r.name === name);
      let name = q.name;
      const seen = new Set<string>();
      for (;;) {
        const here = at(name);
        const cname = here.find((r) => r.type === 'CNAME');
        const wanted = typeNames[q.type];
        const match = here.filter((r) => q.type === TYPE_ANY || r.type === wanted);
        if (match.length) {
          answers.push(...match);
          break;
        }
        if (cname && q.type !== 5) {
          answers.push(cname);
          const target = normalizeName(String(cname.data));
          if (seen.has(target) || !inZone(target, zone.name)) break;
          seen.add(target);
          name = target;
          continue;
        }
        if (answers.length === 0) {
          const exists = here.length > 0 || all.some((r) => r.name.endsWith('.' + name));
          if (!exists) rcode = Rcode.NXDOMAIN;
          const soa = all.find((r) => r.type === 'SOA')!;
          authorities = [{ ...soa, ttl: Math.min(soa.ttl, zone.soa.minimum) }];
        }
        break;
      }
    }
    let out = encodeReply(id, flags, rcode, question, answers, authorities, additionals);
    if (out.length > maxSize) {
      // Too large for this UDP client: say so and let it come back over TCP.
      answers = [];
      authorities = [];
      out = encodeReply(id, flags | dnsPacket.TRUNCATED_RESPONSE, rcode, question, answers, authorities, additionals);
    }
    return out;
  }

  #lastPullRefusal: string | undefined;

  #statePull(msg: Buffer, raw: RawMessage, question: Record<string, unknown>, transport: 'udp' | 'tcp'): Buffer {
    const v = this.verifyTsig(msg);
    const transfer = this.#opts.keys.transfer;
    if (!v.ok || v.key.name !== transfer || transport !== 'tcp') {
      this.stats.notauth++;
      const reason = !v.ok ? v.reason : v.key.name !== transfer ? `key ${v.key.name} may not pull state` : 'state pulls go over TCP';
      // Once per reason, not at every pull (a peer with the wrong key pulls every second, for ever).
      if (this.#lastPullRefusal !== reason) this.log({ event: 'state-pull-refused', reason, hint: 'a peer pulls with a key this server does not accept: check dns.transfer_key on both sites' });
      this.#lastPullRefusal = reason;
      return errorReply(raw.id, 0, Rcode.NOTAUTH, question);
    }
    const zoneName = normalizeName(raw.qd[0]!.name.slice('_lifeboat-state.'.length));
    const zone = this.store.zones.find((z) => z.name === zoneName);
    const answers: Rr[] = [];
    if (zone) {
      for (const [svc, st] of Object.entries(this.store.allStates())) {
        if (this.store.zoneOf(svc)?.name !== zone.name) continue;
        answers.push({ name: raw.qd[0]!.name, type: 'TXT', ttl: 0, data: chunks(JSON.stringify({ service: svc, ...st })) });
      }
      answers.push({ name: raw.qd[0]!.name, type: 'TXT', ttl: 0, data: chunks(JSON.stringify({ dynamic: this.store.dynamic(zone.name) })) });
    }
    const body = encodeReply(raw.id, dnsPacket.AUTHORITATIVE_ANSWER, zone ? Rcode.NOERROR : Rcode.NXDOMAIN, question, answers, [], []);
    return sign(body, v.key, { now: this.now(), requestMac: v.tsig.mac }).message;
  }
}

function optRecord(): Rr {
  return { name: '.', type: 'OPT', ttl: 0, data: undefined, ...({ udpPayloadSize: OUR_UDP_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] } as object) } as Rr;
}

/** Why an address cannot be listened on, in words, with what to do about it. */
function listenError(err: unknown, proto: string, host: string, port: number): LifeboatError {
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const code = errnoCode(err);
  const why: Record<string, [string, string]> = {
    EADDRINUSE: ['another process holds it', `stop that process (\`ss -lnp 'sport = :${port}'\` names it), or listen on another address or port`],
    EACCES: ['permission denied', 'ports below 1024 need root or CAP_NET_BIND_SERVICE; or listen on a port above 1023'],
    EADDRNOTAVAIL: [`${host} is not an address of this machine`, 'listen on an address this machine has (`ip addr` lists them)'],
  };
  const [reason, hint] = why[code ?? ''] ?? [(err as Error).message, 'check the listen address in the configuration'];
  return new LifeboatError('NETWORK', `cannot listen on ${proto} ${at}: ${reason}`, { cause: err, hint, context: { host, port, errno: code } });
}
