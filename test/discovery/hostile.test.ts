/**
 * Service discovery under attack: a TTL change never undoes a failover when a partition heals; TXT bytes
 * survive nsupdate, answers and a peer; replayed and half-valid updates change nothing; the update key cannot
 * rewrite the zone's name servers; an epoch at the ceiling is refused; clients that hold TCP connections or
 * drip bytes cannot stop the server from answering.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { run } from '../../src/core/index.ts';
import { exchange, query, txtStrings } from '../../src/discovery/client.ts';
import { BuiltinPublisher } from '../../src/discovery/publisher.ts';
import { DnsServer } from '../../src/discovery/server.ts';
import { PeerSync } from '../../src/discovery/sync.ts';
import { parseKey } from '../../src/discovery/tsig.ts';
import { ZoneStore } from '../../src/discovery/zone.ts';
import { tempDir } from '../helpers/repo.ts';
import { waitFor } from '../helpers/wait.ts';
import { CONTROL_KEY, dig, keyArg, SERVICES, startServer, TRANSFER_KEY, UPDATE_KEY, ZONE } from './helpers.ts';

const zoneOf = (): string => 'app.test';

test('a TTL change made during a partition never undoes a failover made on the other side', async (t) => {
  const dir = await tempDir(t);
  const f1 = await startServer(t, { stateFile: join(dir, 'f.json') });
  const g1 = await startServer(t, { stateFile: join(dir, 'g.json') });
  const [fp, gp] = [f1.port, g1.port];
  // F is down: the failover is published at G.
  await f1.stop();
  const atG = new BuiltinPublisher({ servers: [{ host: '127.0.0.1', port: gp }], controlKey: CONTROL_KEY, zoneOf, timeoutMs: 20_000 });
  assert.equal((await atG.publish('www.app.test', 'hotsite')).epoch, 1);
  // G goes down, F comes back and has its TTL lowered (it still thinks primary is live).
  await g1.stop();
  const f2 = await startServer(t, { stateFile: join(dir, 'f.json'), port: fp });
  const atF = new BuiltinPublisher({ servers: [{ host: '127.0.0.1', port: fp }], controlKey: CONTROL_KEY, zoneOf, timeoutMs: 20_000 });
  await atF.setTtl('www.app.test', 10);
  // The partition heals: both serve the failover, with the lowered TTL.
  const g2 = await startServer(t, { stateFile: join(dir, 'g.json'), port: gp });
  const syncF = new PeerSync(f2, [{ host: '127.0.0.1', port: gp }], TRANSFER_KEY, { intervalMs: 100 });
  const syncG = new PeerSync(g2, [{ host: '127.0.0.1', port: fp }], TRANSFER_KEY, { intervalMs: 100 });
  await syncF.start();
  await syncG.start();
  t.after(async () => {
    await syncF.stop();
    await syncG.stop();
  });
  for (const s of [f2, g2]) {
    await waitFor('both on the failover with the new TTL', async () => {
      const st = s.store.state('www.app.test');
      return st?.site === 'hotsite' && s.store.ttlOf('www.app.test') === 10;
    }, 20_000);
    assert.match((await dig(s.port, ['+noall', '+answer', 'www.app.test', 'A'])).out, /^www\.app\.test\.\s+10\s+IN\s+A\s+198\.51\.100\.12$/m);
  }
  assert.equal(f2.store.state('www.app.test')!.epoch, 1, 'a TTL change is not a change of site');
});

test('TXT bytes survive an update, answers, the state file and a peer; a delete by value removes them', async (t) => {
  const dir = await tempDir(t);
  const a = await startServer(t, { stateFile: join(dir, 'a.json') });
  const b = await startServer(t, { stateFile: join(dir, 'b.json') });
  const script = ['server 127.0.0.1 ' + a.port, 'zone app.test', 'update add note.app.test 60 TXT "café \\255 end" "second"', 'send', ''].join('\n');
  const up = await run('nsupdate', ['-y', keyArg(UPDATE_KEY)], { input: script, timeoutMs: 20_000 });
  assert.equal(up.code, 0, up.stderr);
  const want = [Buffer.concat([Buffer.from('café '), Buffer.of(255), Buffer.from(' end')]), Buffer.from('second')];
  const got = async (port: number): Promise<Buffer[] | undefined> => {
    const r = await query({ host: '127.0.0.1', port }, 'note.app.test', 'TXT');
    const ans = (r.packet as { answers?: Array<{ type: string; data: Buffer[] }> }).answers?.find((x) => x.type === 'TXT');
    return ans?.data;
  };
  // Answered more than once: the first answer used to turn the stored text into Buffer objects.
  for (let i = 0; i < 3; i++) assert.deepEqual(await got(a.port), want);
  assert.doesNotMatch(readFileSync(join(dir, 'a.json'), 'utf8'), /"type":"Buffer"/);
  const sync = new PeerSync(b, [{ host: '127.0.0.1', port: a.port }], TRANSFER_KEY);
  await sync.pullOnce();
  assert.deepEqual(await got(b.port), want);
  const del = ['server 127.0.0.1 ' + a.port, 'zone app.test', 'update delete note.app.test TXT "café \\255 end" "second"', 'send', ''].join('\n');
  assert.equal((await run('nsupdate', ['-y', keyArg(UPDATE_KEY)], { input: del, timeoutMs: 20_000 })).code, 0);
  assert.equal(await got(a.port), undefined);
});

/** A signed update message (opcode 5) with these records. */
function update(authorities: dnsPacket.Answer[]): Buffer {
  return dnsPacket.encode({ type: 'query', id: 4242, flags: 5 << 11, questions: [{ name: 'app.test', type: 'SOA', class: 'IN' }], authorities });
}

/** Send the exact same signed bytes again (a replay), over TCP. */
async function sendRaw(port: number, msg: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      sock.write(Buffer.concat([head, msg]));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(buf.readUInt16BE(2 + 2) & 0xf);
      }
    });
    sock.on('error', reject);
  });
}

test('a replayed update is refused; an update with one bad part changes nothing; name servers are not the update key\'s', async (t) => {
  const s = await startServer(t);
  const { sign } = await import('../../src/discovery/tsig.ts');
  const ttl = sign(update([{ name: '_lifeboat-ttl.www.app.test', type: 'TXT', class: 'IN', ttl: 0, data: ['ttl=30'] }]), CONTROL_KEY, { now: Date.now() / 1000 }).message;
  assert.equal(await sendRaw(s.port, ttl), 0);
  const after = structuredClone(s.store.state('www.app.test'));
  for (let i = 0; i < 3; i++) assert.equal(await sendRaw(s.port, ttl), 5, 'REFUSED');
  assert.deepEqual(s.store.state('www.app.test'), after);
  // A valid publish beside a stale one: refused whole.
  const mixed = sign(
    update([
      { name: '_lifeboat-publish.www.app.test', type: 'TXT', class: 'IN', ttl: 0, data: ['site=hotsite', 'epoch=5'] },
      { name: '_lifeboat-publish._db._tcp.app.test', type: 'TXT', class: 'IN', ttl: 0, data: ['site=hotsite', 'epoch=0'] },
    ]),
    CONTROL_KEY,
    { now: Date.now() / 1000 },
  ).message;
  assert.equal(await sendRaw(s.port, mixed), 7, 'YXRRSET');
  assert.equal(s.store.state('www.app.test')!.site, 'primary');
  assert.equal(s.store.state('www.app.test')!.epoch, 0);
  // The zone's name servers and their addresses are not for the update key.
  for (const line of ['update add ns1.app.test 60 A 203.0.113.9', 'update add ns2.app.test 60 CNAME evil.example.', 'update add x.app.test 60 AAAA ::zz']) {
    const script = ['server 127.0.0.1 ' + s.port, 'zone app.test', line, 'send', ''].join('\n');
    const r = await run('nsupdate', ['-y', keyArg(UPDATE_KEY)], { input: script, timeoutMs: 20_000 });
    assert.notEqual(r.code, 0, line);
  }
  assert.match((await dig(s.port, ['+short', 'ns1.app.test', 'A'])).out, /^127\.0\.0\.1$/m);
  // An epoch at the ceiling is refused (it left the service unable to take any later change).
  const atCeiling = await exchange({ host: '127.0.0.1', port: s.port }, update([{ name: '_lifeboat-publish.www.app.test', type: 'TXT', class: 'IN', ttl: 0, data: ['site=hotsite', `epoch=${2 ** 53 - 1}`] }]), { key: CONTROL_KEY, tcp: true });
  assert.notEqual(atCeiling.rcode, 0);
  const ok = new BuiltinPublisher({ servers: [{ host: '127.0.0.1', port: s.port }], controlKey: CONTROL_KEY, zoneOf, timeoutMs: 20_000 });
  assert.equal((await ok.publish('www.app.test', 'hotsite')).epoch, 1);
});

test('held, dripping and flooding TCP clients do not stop the server from answering', async (t) => {
  const store = new ZoneStore([ZONE], SERVICES);
  const server = new DnsServer(store, {
    port: 0,
    keys: { update: {}, control: 'lb-control', transfer: 'lb-transfer', all: new Map() },
    tcp: { idleMs: 500, lifetimeMs: 1500, connections: 20 },
  });
  await server.start();
  t.after(() => server.stop());
  const socks: Socket[] = [];
  t.after(() => {
    for (const x of socks) x.destroy();
  });
  const open = (): Socket => {
    const x = connect(server.port, '127.0.0.1');
    x.on('error', () => undefined);
    socks.push(x);
    return x;
  };
  // A client dripping one byte every 200 ms is never idle: the lifetime limit ends it.
  const drip = open();
  let closed = false;
  drip.on('close', () => (closed = true));
  const timer = setInterval(() => drip.write(Buffer.of(0)), 200);
  t.after(() => clearInterval(timer));
  // Many more held connections than the cap.
  for (let i = 0; i < 100; i++) open();
  const answer = async (): Promise<string> => (await query({ host: '127.0.0.1', port: server.port }, 'www.app.test', 'A', { tcp: true, timeoutMs: 3000 })).rcodeName;
  assert.equal(await answer(), 'NOERROR');
  await waitFor('the dripping client to be cut off', () => closed, 10_000);
  assert.equal(await answer(), 'NOERROR');
  assert.equal(txtStrings(await query({ host: '127.0.0.1', port: server.port }, '_epoch.www.app.test', 'TXT', { tcp: true }))[0]?.[0], 'site=primary');
});

test('EDNS versions above 0 get BADVERS, zone transfers are refused, a killed writer\'s temp state file is cleared', async (t) => {
  const dir = await tempDir(t);
  const state = join(dir, 'state.json');
  // A temp file a writer killed before its rename left behind (its process is gone).
  const { writeFileSync, existsSync } = await import('node:fs');
  writeFileSync(`${state}.tmp-${2 ** 22 + 5}`, '{"half":');
  const s = await startServer(t, { stateFile: state });
  assert.equal(existsSync(`${state}.tmp-${2 ** 22 + 5}`), false);
  const v1 = await dig(s.port, ['+edns=1', '+noednsneg', 'www.app.test', 'A']);
  assert.match(v1.out, /status: BADVERS/);
  const axfr = await dig(s.port, ['app.test', 'AXFR']);
  assert.match(axfr.out, /Transfer failed|REFUSED/);
  assert.match((await dig(s.port, ['+short', 'www.app.test'])).out, /198\.51\.100\.11/);
});

test('mismatched peer keys: each side says so once, not at every pull, and says when it works again', async (t) => {
  const dir = await tempDir(t);
  const served: Array<Record<string, unknown>> = [];
  const a = await startServer(t, { stateFile: join(dir, 'a.json'), log: (e) => served.push(e) });
  const b = await startServer(t, { stateFile: join(dir, 'b.json') });
  const pulled: Array<Record<string, unknown>> = [];
  const wrong = parseKey('lb-transfer', 'hmac-sha256', Buffer.alloc(32, 3).toString('base64'));
  const rogue = new PeerSync(b, [{ host: '127.0.0.1', port: a.port }], wrong, { log: (e) => pulled.push(e) });
  for (let i = 0; i < 5; i++) await rogue.pullOnce();
  const refused = served.filter((e) => e.event === 'state-pull-refused');
  assert.equal(refused.length, 1, JSON.stringify(served));
  assert.match(String(refused[0]!.hint), /transfer_key/);
  const failing = pulled.filter((e) => e.event === 'sync-failing');
  assert.equal(failing.length, 1, JSON.stringify(pulled));
  assert.match(String(failing[0]!.error), /NOTAUTH|sign/);
  // The right key: one line saying it works again, then silence.
  const fixed = new PeerSync(b, [{ host: '127.0.0.1', port: a.port }], TRANSFER_KEY, { log: (e) => pulled.push(e) });
  await fixed.pullOnce();
  assert.equal(pulled.filter((e) => e.event === 'sync-working').length, 0, 'a first success is no news');
  for (let i = 0; i < 3; i++) await rogue.pullOnce();
  assert.equal(pulled.filter((e) => e.event === 'sync-failing').length, 1);
});
