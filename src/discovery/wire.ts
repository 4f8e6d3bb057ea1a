/**
 * The few parts of the DNS wire format that Lifeboat reads itself rather than through dns-packet: walking
 * a message's sections to find where each record starts (for TSIG, which signs raw bytes), domain names
 * with compression (with loop and bounds checks), and RFC 2136 update records, whose class NONE / ANY
 * and empty RDATA dns-packet misreads. Every read is bounds-checked; malformed input throws WireError.
 */

export class WireError extends Error {}

export const enum Rcode {
  NOERROR = 0,
  FORMERR = 1,
  SERVFAIL = 2,
  NXDOMAIN = 3,
  NOTIMP = 4,
  REFUSED = 5,
  YXDOMAIN = 6,
  YXRRSET = 7,
  NXRRSET = 8,
  NOTAUTH = 9,
  NOTZONE = 10,
}

export const rcodeNames: Record<number, string> = {
  0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN', 7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE',
};

export const CLASS_IN = 1;
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;
export const TYPE_SOA = 6;
export const TYPE_TSIG = 250;
export const TYPE_ANY = 255;
export const TYPE_OPT = 41;

export const typeNumbers: Record<string, number> = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, TSIG: 250, ANY: 255 };
export const typeNames: Record<number, string> = Object.fromEntries(Object.entries(typeNumbers).map(([k, v]) => [v, k]));

/** Read a (possibly compressed) name at `off`; returns it lowercased without the trailing dot, and where it ends. */
export function readName(buf: Buffer, off: number): { name: string; end: number } {
  const labels: string[] = [];
  let pos = off;
  let end = -1;
  let jumps = 0;
  let length = 0;
  for (;;) {
    if (pos >= buf.length) throw new WireError('name runs past the end of the message');
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) throw new WireError('truncated compression pointer');
      if (++jumps > 64) throw new WireError('compression loop');
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (end < 0) end = pos + 2;
      if (target >= pos) throw new WireError('compression pointer points forward');
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new WireError('unknown label type');
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    if (pos + 1 + len > buf.length) throw new WireError('label runs past the end of the message');
    length += len + 1;
    if (length > 255) throw new WireError('name longer than 255 bytes');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len).toLowerCase());
    pos += 1 + len;
  }
  return { name: labels.join('.'), end };
}

/** A name in canonical wire form: lowercase, uncompressed. */
export function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((p) => p !== '');
  const out: number[] = [];
  for (const p of parts) {
    const b = Buffer.from(p.toLowerCase(), 'latin1');
    if (b.length > 63) throw new WireError(`label "${p}" longer than 63 bytes`);
    out.push(b.length, ...b);
  }
  out.push(0);
  if (out.length > 255) throw new WireError('name longer than 255 bytes');
  return Buffer.from(out);
}

export interface RawRecord {
  name: string;
  type: number;
  klass: number;
  ttl: number;
  /** Offset of the record's first byte and of its RDATA, and the RDATA length. */
  start: number;
  rdata: number;
  rdlength: number;
  end: number;
}

export interface RawMessage {
  id: number;
  flags: number;
  opcode: number;
  qd: Array<{ name: string; type: number; klass: number }>;
  /** Answer / prerequisite, authority / update, additional. */
  an: RawRecord[];
  ns: RawRecord[];
  ar: RawRecord[];
}

/** Parse the header and every section's records (not their RDATA). Throws WireError on anything malformed. */
export function parseRaw(buf: Buffer): RawMessage {
  if (buf.length < 12) throw new WireError('message shorter than its header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  const counts = [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)];
  let off = 12;
  const qd: RawMessage['qd'] = [];
  for (let i = 0; i < counts[0]!; i++) {
    const n = readName(buf, off);
    if (n.end + 4 > buf.length) throw new WireError('truncated question');
    qd.push({ name: n.name, type: buf.readUInt16BE(n.end), klass: buf.readUInt16BE(n.end + 2) });
    off = n.end + 4;
  }
  const section = (count: number): RawRecord[] => {
    const out: RawRecord[] = [];
    for (let i = 0; i < count; i++) {
      const start = off;
      const n = readName(buf, off);
      if (n.end + 10 > buf.length) throw new WireError('truncated record');
      const rdlength = buf.readUInt16BE(n.end + 8);
      const rdata = n.end + 10;
      if (rdata + rdlength > buf.length) throw new WireError('record data runs past the end of the message');
      out.push({ name: n.name, type: buf.readUInt16BE(n.end), klass: buf.readUInt16BE(n.end + 2), ttl: buf.readUInt32BE(n.end + 4), start, rdata, rdlength, end: rdata + rdlength });
      off = rdata + rdlength;
    }
    return out;
  };
  const an = section(counts[1]!);
  const ns = section(counts[2]!);
  const ar = section(counts[3]!);
  return { id, flags, opcode: (flags >> 11) & 0xf, qd, an, ns, ar };
}
