/**
 * TSIG (RFC 8945): transaction signatures with a shared key, for dynamic updates (to BIND and to the
 * built-in server) and for the built-in servers' pulls from each other. Implemented here on raw bytes:
 * no npm package signs TSIG, and the MAC covers the exact bytes sent.
 *
 *   request MAC  = HMAC(key, message without its TSIG record (ARCOUNT one less, original id) || variables)
 *   response MAC = HMAC(key, len(request MAC) || request MAC || response without TSIG || variables)
 *   variables    = key name, class ANY, TTL 0, algorithm name (canonical wire), time signed (48 bits),
 *                  fudge, error, other length, other data
 *
 * Secrets are never logged; errors name the key, never its secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { LifeboatError } from '../core/index.ts';
import { CLASS_ANY, encodeName, parseRaw, readName, TYPE_TSIG, WireError } from './wire.ts';

export interface TsigKey {
  name: string;
  /** hmac-sha256 (default), hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1. */
  algorithm: string;
  /** The shared secret, decoded from its base64 form. */
  secret: Buffer;
}

export const TSIG_ERRORS = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
export const tsigErrorNames: Record<number, string> = { 0: 'NOERROR', 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

const hashes: Record<string, string> = { 'hmac-sha256': 'sha256', 'hmac-sha512': 'sha512', 'hmac-sha384': 'sha384', 'hmac-sha224': 'sha224', 'hmac-sha1': 'sha1' };

export function parseKey(name: string, algorithm: string, secretBase64: string): TsigKey {
  const alg = algorithm.toLowerCase().replace(/\.$/, '');
  if (!hashes[alg]) throw new LifeboatError('CONFIG', `TSIG key ${name}: unsupported algorithm ${algorithm}`, { hint: 'use hmac-sha256' });
  const secret = Buffer.from(secretBase64, 'base64');
  if (secret.length < 16) throw new LifeboatError('CONFIG', `TSIG key ${name}: the secret is shorter than 16 bytes`, { hint: 'make one with `tsig-keygen -a hmac-sha256 NAME` or `openssl rand -base64 32`' });
  return { name: name.toLowerCase().replace(/\.$/, ''), algorithm: alg, secret };
}

export interface TsigRecord {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
  /** Where the TSIG record starts in the message. */
  start: number;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n % 2 ** 32, 2);
  return b;
}

function variables(keyName: string, algorithm: string, time: number, fudge: number, error: number, other: Buffer): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(CLASS_ANY, 0);
  fixed.writeUInt32BE(0, 2);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(fudge, 0);
  tail.writeUInt16BE(error, 2);
  tail.writeUInt16BE(other.length, 4);
  return Buffer.concat([encodeName(keyName), fixed, encodeName(algorithm), u48(time), tail, other]);
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac(hashes[key.algorithm]!, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

function requestMacPrefix(requestMac: Buffer | undefined): Buffer[] {
  if (!requestMac) return [];
  const len = Buffer.alloc(2);
  len.writeUInt16BE(requestMac.length, 0);
  return [len, requestMac];
}

export interface SignOptions {
  /** Seconds since the epoch. */
  now: number;
  fudge?: number;
  /** For a response: the MAC of the request it answers. */
  requestMac?: Buffer;
  error?: number;
  other?: Buffer;
}

/** Append a TSIG record to an unsigned message. Returns the signed message and its MAC. */
export function sign(message: Buffer, key: TsigKey, opts: SignOptions): { message: Buffer; mac: Buffer } {
  const fudge = opts.fudge ?? 300;
  const error = opts.error ?? 0;
  const other = opts.other ?? Buffer.alloc(0);
  const time = Math.floor(opts.now);
  const mac = hmac(key, [...requestMacPrefix(opts.requestMac), message, variables(key.name, key.algorithm, time, fudge, error, other)]);
  const rdata = Buffer.concat([
    encodeName(key.algorithm),
    u48(time),
    Buffer.from([fudge >> 8, fudge & 0xff, mac.length >> 8, mac.length & 0xff]),
    mac,
    Buffer.from([message[0]!, message[1]!, error >> 8, error & 0xff, other.length >> 8, other.length & 0xff]),
    other,
  ]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(TYPE_TSIG, 0);
  head.writeUInt16BE(CLASS_ANY, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  const signed = Buffer.concat([message, encodeName(key.name), head, rdata]);
  signed.writeUInt16BE(signed.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

/** The TSIG record of a message, if it has one (it must be the last additional record). */
export function findTsig(message: Buffer): TsigRecord | undefined {
  const raw = parseRaw(message);
  const i = raw.ar.findIndex((r) => r.type === TYPE_TSIG);
  if (i < 0) return undefined;
  if (i !== raw.ar.length - 1) throw new WireError('TSIG is not the last record');
  const r = raw.ar[i]!;
  const alg = readName(message, r.rdata);
  let p = alg.end;
  const need = (n: number): void => {
    if (p + n > r.end) throw new WireError('truncated TSIG record');
  };
  need(10);
  const timeSigned = message.readUInt16BE(p) * 2 ** 32 + message.readUInt32BE(p + 2);
  const fudge = message.readUInt16BE(p + 6);
  const macLen = message.readUInt16BE(p + 8);
  p += 10;
  need(macLen + 6);
  const mac = Buffer.from(message.subarray(p, p + macLen));
  p += macLen;
  const originalId = message.readUInt16BE(p);
  const error = message.readUInt16BE(p + 2);
  const otherLen = message.readUInt16BE(p + 4);
  p += 6;
  need(otherLen);
  const other = Buffer.from(message.subarray(p, p + otherLen));
  return { keyName: r.name, algorithm: alg.name, timeSigned, fudge, mac, originalId, error, other, start: r.start };
}

export type VerifyResult =
  | { ok: true; tsig: TsigRecord; key: TsigKey }
  | { ok: false; error: number; reason: string; tsig: TsigRecord | undefined; key?: TsigKey };

/**
 * Check a signed message. `keys` finds a key by name. For a response, give the request's MAC. A missing
 * signature is not ok (error 0: the caller decides whether unsigned is acceptable).
 */
export function verify(message: Buffer, keys: (name: string) => TsigKey | undefined, opts: { now: number; requestMac?: Buffer }): VerifyResult {
  const tsig = findTsig(message);
  if (!tsig) return { ok: false, error: 0, reason: 'not signed', tsig };
  const key = keys(tsig.keyName);
  if (!key || key.algorithm !== tsig.algorithm) return { ok: false, error: TSIG_ERRORS.BADKEY, reason: `unknown key ${tsig.keyName} (${tsig.algorithm})`, tsig };
  const unsigned = Buffer.from(message.subarray(0, tsig.start));
  unsigned.writeUInt16BE(tsig.originalId, 0);
  unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
  const expected = hmac(key, [...requestMacPrefix(opts.requestMac), unsigned, variables(tsig.keyName, tsig.algorithm, tsig.timeSigned, tsig.fudge, tsig.error, tsig.other)]);
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) {
    return { ok: false, error: TSIG_ERRORS.BADSIG, reason: `bad signature with key ${tsig.keyName}`, tsig, key };
  }
  if (Math.abs(opts.now - tsig.timeSigned) > tsig.fudge) {
    return { ok: false, error: TSIG_ERRORS.BADTIME, reason: `signed at ${tsig.timeSigned}, ${Math.round(opts.now - tsig.timeSigned)} s from now (fudge ${tsig.fudge})`, tsig, key };
  }
  return { ok: true, tsig, key };
}

/**
 * An unsigned error answer to a request whose signature failed (BADKEY, BADSIG): a TSIG record with the
 * error and no MAC, so the client can tell why (nsupdate prints NOTAUTH(BADSIG)).
 */
export function appendTsigError(message: Buffer, keyName: string, algorithm: string, now: number, error: number): Buffer {
  const time = Math.floor(now);
  const rdata = Buffer.concat([
    encodeName(algorithm),
    u48(time),
    Buffer.from([1, 44, 0, 0]), // fudge 300, MAC size 0
    Buffer.from([message[0]!, message[1]!, error >> 8, error & 0xff, 0, 0]),
  ]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(TYPE_TSIG, 0);
  head.writeUInt16BE(CLASS_ANY, 2);
  head.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([message, encodeName(keyName), head, rdata]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

export function u48Buffer(n: number): Buffer {
  return u48(n);
}

/** The keys a server knows, and what each may do. */
export interface ServerKeys {
  /** Keys that may send RFC 2136 updates, per zone (key names). */
  update: Record<string, string[]>;
  /** The key `lifeboat dns publish` signs with. */
  control?: string;
  /** The key peers sign state pulls with. */
  transfer?: string;
  all: Map<string, TsigKey>;
}
