/**
 * Malformed DNS packets never crash the server or change its state: hand-made nasties (truncated,
 * compression loops, oversized labels), then a few thousand random and mutated packets, in process and
 * over the wire. The randomness is seeded, so a failure reproduces.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { query } from '../../src/discovery/client.ts';
import { sign } from '../../src/discovery/tsig.ts';
import { dig, startServer, UPDATE_KEY, CONTROL_KEY } from './helpers.ts';

/** xorshift32: deterministic. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(qd, 4);
  b.writeUInt16BE(an, 6);
  b.writeUInt16BE(ns, 8);
  b.writeUInt16BE(ar, 10);
  return b;
}

test('fuzz: malformed packets never crash the server or change what it serves', async (t) => {
  const s = await startServer(t);
  const snapshot = (): string => JSON.stringify({ st: s.store.allStates(), d: s.store.dynamic('app.test'), serial: s.store.serial('app.test') });
  const valid = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'www.app.test', type: 'A', class: 'IN' }] });
  const update = dnsPacket.encode({
    type: 'query',
    id: 9,
    flags: 5 << 11,
    questions: [{ name: 'app.test', type: 'SOA', class: 'IN' }],
    authorities: [{ name: 'www.app.test', type: 'A', class: 'IN', ttl: 5, data: '198.51.100.99' }],
  });
  const signedUpdate = sign(update, UPDATE_KEY, { now: Date.now() / 1000 }).message;
  const signedPublish = sign(
    dnsPacket.encode({
      type: 'query',
      id: 10,
      flags: 5 << 11,
      questions: [{ name: 'app.test', type: 'SOA', class: 'IN' }],
      authorities: [{ name: '_lifeboat-publish.www.app.test', type: 'TXT', class: 'IN', ttl: 0, data: ['site=hotsite', 'epoch=1'] }],
    }),
    CONTROL_KEY,
    { now: Date.now() / 1000 },
  ).message;
  // Applied once, for real; every later copy (a replay, perhaps with another id) carries a stale epoch.
  s.handle(signedPublish, 'udp');
  assert.equal(s.store.state('www.app.test')?.site, 'hotsite');
  const before = snapshot();

  const nasty: Buffer[] = [
    Buffer.alloc(0),
    Buffer.from([1, 2, 3]),
    header(1, 0, 1), // a question count with no question
    Buffer.concat([header(2, 0, 1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]), // pointer to itself: a loop
    Buffer.concat([header(3, 0, 1), Buffer.from([0xc0, 14, 0xc0, 12, 0, 1, 0, 1])]), // forward pointer
    Buffer.concat([header(4, 0, 1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0, 0, 1, 0, 1])]), // 64-byte label
    Buffer.concat([header(5, 0, 1), ...Array.from({ length: 60 }, () => Buffer.from([5, 0x61, 0x61, 0x61, 0x61, 0x61])), Buffer.from([0, 0, 1, 0, 1])]), // name > 255
    Buffer.concat([header(6, 0, 1), Buffer.from([0x80, 1, 0, 1, 0, 1])]), // reserved label type
    Buffer.concat([header(7, 0, 0, 0, 0, 1), Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff])]), // OPT with rdlength past the end
    valid.subarray(0, valid.length - 2), // truncated question
    Buffer.concat([header(8, 0, 2), valid.subarray(12), valid.subarray(12)]), // two questions
    Buffer.concat([header(9, 0x8000, 1), valid.subarray(12)]), // a response (must not be answered)
    signedUpdate.subarray(0, signedUpdate.length - 5), // a truncated TSIG
    Buffer.from(signedPublish.subarray(0, signedPublish.length - 40)), // a publish with its signature cut
  ];
  for (const p of nasty) s.handle(p, 'udp');

  const r = rng(0x5eed);
  const seeds = [valid, update, signedUpdate, signedPublish];
  const sock = createSocket('udp4');
  t.after(() => new Promise<void>((res) => sock.close(() => res())));
  for (let i = 0; i < 4000; i++) {
    let p: Buffer;
    if (i % 4 === 0) {
      p = Buffer.alloc(Math.floor(r() * 600));
      for (let j = 0; j < p.length; j++) p[j] = Math.floor(r() * 256);
    } else {
      p = Buffer.from(seeds[i % seeds.length]!);
      const flips = 1 + Math.floor(r() * 6);
      for (let j = 0; j < flips; j++) p[Math.floor(r() * p.length)] = Math.floor(r() * 256);
      if (r() < 0.2) p = p.subarray(0, Math.floor(r() * p.length));
    }
    s.handle(p, i % 2 ? 'udp' : 'tcp');
    if (i % 10 === 0) sock.send(p, s.port, '127.0.0.1');
  }
  // Still serving, still the same. The burst of UDP packets may have filled the socket's buffer (the
  // kernel drops what does not fit): poll until an answer comes, with a generous bound.
  let alive = false;
  for (let k = 0; k < 20 && !alive; k++) {
    alive = await query({ host: '127.0.0.1', port: s.port }, 'www.app.test', 'A', { timeoutMs: 1000 }).then(() => true, () => false);
  }
  assert.ok(alive, 'the server answers after the fuzzing');
  assert.equal((await dig(s.port, ['+short', 'www.app.test', 'A'])).out.trim(), '198.51.100.12');
  assert.equal((await dig(s.port, ['+tcp', '+short', 'www.app.test', 'A'])).out.trim(), '198.51.100.12');
  assert.equal(snapshot(), before);
  assert.ok(s.stats.formerr > 0);
});
