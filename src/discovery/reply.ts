// Building DNS replies: shared by the query path (server.ts) and the update path (update.ts).
import dnsPacket from 'dns-packet';
import { typeNames } from './wire.ts';
import type { Rr } from './zone.ts';

export function questionOf(q: { name: string; type: number; klass: number }): Record<string, unknown> {
  return { name: q.name, type: typeNames[q.type] ?? `UNKNOWN_${q.type}`, class: ({ 1: 'IN', 3: 'CH', 4: 'HS', 255: 'ANY' } as Record<number, string>)[q.klass] ?? 'IN' };
}

/** A string's UTF-8 split into TXT character-strings of at most 255 bytes (as bytes: a string would be encoded again). */
export function chunks(s: string): Buffer[] {
  const b = Buffer.from(s);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += 255) out.push(b.subarray(i, i + 255));
  return out;
}

export function encodeReply(id: number, flags: number, rcode: number, question: Record<string, unknown> | undefined, answers: Rr[], authorities: Rr[], additionals: Rr[], opcode = 0): Buffer {
  const packet = {
    type: 'response' as const,
    id,
    flags: (flags & ~0x780f) | (opcode << 11) | rcode,
    questions: question ? [question] : [],
    answers: answers.map((r) => ({ class: 'IN', ...r })),
    authorities: authorities.map((r) => ({ class: 'IN', ...r })),
    additionals: additionals.map((r) => (r.type === 'OPT' ? r : { class: 'IN', ...r })),
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return dnsPacket.encode(packet as any);
}

export function errorReply(id: number, opcode: number, rcode: number, question?: Record<string, unknown>): Buffer {
  return encodeReply(id, 0, rcode, question, [], [], [], opcode);
}
