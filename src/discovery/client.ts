/**
 * A small DNS client: queries over UDP (falling back to TCP when truncated) or TCP, and TSIG-signed
 * messages whose answers are verified. Used by the publishers (to verify what is live), by peers pulling
 * state, and by `lifeboat dns status`.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { LifeboatError } from '../core/index.ts';
import { sign, verify, type TsigKey } from './tsig.ts';
import { parseRaw, rcodeNames } from './wire.ts';

export interface Endpoint {
  host: string;
  port: number;
}

export interface ExchangeOptions {
  tcp?: boolean;
  timeoutMs?: number;
  key?: TsigKey;
  /** Seconds since the epoch (for TSIG). */
  now?: number;
}

export interface Exchanged {
  raw: Buffer;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  packet: any;
  rcode: number;
  rcodeName: string;
  /** The TSIG error of the answer (BADSIG, ...), when it carries one. */
  tsigError?: number;
}

function timeoutError(ep: Endpoint, ms: number): LifeboatError {
  return new LifeboatError('SOURCE', `no answer from DNS server ${ep.host}:${ep.port} within ${ms} ms`, { hint: 'check that it runs and the address and port' });
}

async function udpExchange(ep: Endpoint, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  const sock = createSocket(ep.host.includes(':') ? 'udp6' : 'udp4');
  const id = msg.readUInt16BE(0);
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const t = setTimeout(() => reject(timeoutError(ep, timeoutMs)), timeoutMs);
      sock.on('message', (m) => {
        if (m.length >= 2 && m.readUInt16BE(0) === id) {
          clearTimeout(t);
          resolve(m);
        }
      });
      sock.on('error', (e) => {
        clearTimeout(t);
        reject(new LifeboatError('SOURCE', `DNS server ${ep.host}:${ep.port}: ${e.message}`));
      });
      sock.send(msg, ep.port, ep.host);
    });
  } finally {
    sock.close();
  }
}

async function tcpExchange(ep: Endpoint, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const sock = connect(ep.port, ep.host);
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      sock.destroy();
      reject(timeoutError(ep, timeoutMs));
    }, timeoutMs);
    sock.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length, 0);
      sock.write(Buffer.concat([head, msg]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(t);
        sock.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(new LifeboatError('SOURCE', `DNS server ${ep.host}:${ep.port}: ${e.message}`));
    });
  });
}

/** Send a message (signed when a key is given), return the verified answer. */
export async function exchange(ep: Endpoint, message: Buffer, opts: ExchangeOptions = {}): Promise<Exchanged> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const now = opts.now ?? Date.now() / 1000;
  let msg = message;
  let mac: Buffer | undefined;
  if (opts.key) ({ message: msg, mac } = sign(message, opts.key, { now }));
  let raw = opts.tcp ? await tcpExchange(ep, msg, timeoutMs) : await udpExchange(ep, msg, timeoutMs);
  if (!opts.tcp && raw.length >= 4 && raw.readUInt16BE(2) & 0x0200) raw = await tcpExchange(ep, msg, timeoutMs);
  let parsed: ReturnType<typeof parseRaw>;
  let packet: unknown;
  try {
    parsed = parseRaw(raw);
    packet = dnsPacket.decode(raw);
  } catch (err) {
    throw new LifeboatError('SOURCE', `DNS server ${ep.host}:${ep.port} sent a malformed answer: ${(err as Error).message}`, { cause: err, hint: 'check that the address is a DNS server' });
  }
  const rcode = parsed.flags & 0xf;
  let tsigError: number | undefined;
  if (opts.key) {
    const v = verify(raw, (n) => (n === opts.key!.name ? opts.key : undefined), { now: Date.now() / 1000, requestMac: mac! });
    if (!v.ok) {
      tsigError = v.tsig?.error;
      // An error answer to a bad request is unsigned by design; anything else unsigned is not to be trusted.
      if (rcode === 0) throw new LifeboatError('INTEGRITY', `the answer from ${ep.host}:${ep.port} is not correctly signed with key ${opts.key.name}: ${v.reason}`);
    } else if (v.tsig.error) tsigError = v.tsig.error;
  }
  return { raw, packet, rcode, rcodeName: rcodeNames[rcode] ?? String(rcode), ...(tsigError ? { tsigError } : {}) };
}

/** A plain query. */
export async function query(ep: Endpoint, name: string, type: string, opts: ExchangeOptions = {}): Promise<Exchanged> {
  const msg = dnsPacket.encode({
    type: 'query',
    id: randomInt(0, 65536),
    flags: 0,
    questions: [{ name, type: type as 'A', class: 'IN' }],
    additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232, flags: 0 } as never],
  });
  return exchange(ep, msg, opts);
}

/** TXT strings of an answer, joined per record. */
export function txtStrings(ex: Exchanged): string[][] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (ex.packet.answers ?? []).filter((a: any) => a.type === 'TXT').map((a: any) => (a.data as Buffer[]).map((b) => (Buffer.isBuffer(b) ? b.toString('latin1') : String(b))));
}
