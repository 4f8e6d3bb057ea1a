/** The built-in DNS server against dig: every record type over UDP and TCP, NXDOMAIN vs NODATA, truncation, publish. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { query } from '../../src/discovery/client.ts';
import { dig, startServer } from './helpers.ts';

test('dns server: dig gets the right answers for every type, over UDP and TCP', async (t) => {
  const s = await startServer(t);
  for (const transport of ['+notcp', '+tcp']) {
    const a = await dig(s.port, [transport, '+short', 'www.app.test', 'A']);
    assert.equal(a.out.trim(), '198.51.100.11', transport);
    assert.equal((await dig(s.port, [transport, '+short', 'www.app.test', 'AAAA'])).out.trim(), '2001:db8::11');
    assert.equal((await dig(s.port, [transport, '+short', 'www.app.test', 'TXT'])).out.trim(), '"served by primary"');
    assert.equal((await dig(s.port, [transport, '+short', '_db._tcp.app.test', 'SRV'])).out.trim(), '10 5 5432 db1.app.test.');
    // A CNAME inside the zone is followed.
    assert.equal((await dig(s.port, [transport, '+short', 'api.app.test', 'A'])).out.trim(), 'www.app.test.\n198.51.100.11');
    assert.match((await dig(s.port, [transport, '+short', 'app.test', 'SOA'])).out, /^ns1\.app\.test\. hostmaster\.app\.test\. \d+ 60 30 3600 5$/m);
    assert.equal((await dig(s.port, [transport, '+short', 'app.test', 'NS'])).out.trim().split('\n').sort().join(','), 'ns1.app.test.,ns2.app.test.');
    const full = await dig(s.port, [transport, 'www.app.test', 'A']);
    assert.match(full.out, /flags: qr aa rd;/);
    assert.match(full.out, /www\.app\.test\.\s+2\s+IN\s+A\s+198\.51\.100\.11/);
  }
  // NXDOMAIN for a name that does not exist; NODATA (NOERROR, no answer, SOA) for a type it lacks.
  const nx = await dig(s.port, ['nope.app.test', 'A']);
  assert.match(nx.out, /status: NXDOMAIN/);
  assert.match(nx.out, /AUTHORITY: 1/);
  const nodata = await dig(s.port, ['www.app.test', 'MX']);
  assert.match(nodata.out, /status: NOERROR/);
  assert.match(nodata.out, /ANSWER: 0, AUTHORITY: 1/);
  // An empty non-terminal (_tcp.app.test has a child) exists: NODATA, not NXDOMAIN.
  assert.match((await dig(s.port, ['_tcp.app.test', 'A'])).out, /status: NOERROR/);
  // Outside our zones: refused, not authoritative.
  assert.match((await dig(s.port, ['example.com', 'A'])).out, /status: REFUSED/);
  // EDNS0 is answered with an OPT record.
  assert.match((await dig(s.port, ['+edns=0', 'www.app.test'])).out, /OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: 1232/);
});

test('dns server: large answers are truncated over UDP and complete over TCP', async (t) => {
  const s = await startServer(t);
  const udp = await dig(s.port, ['+ignore', '+noedns', 'big.app.test', 'TXT']);
  assert.match(udp.out, /flags: qr aa tc rd;/);
  assert.match(udp.out, /ANSWER: 0/);
  const retried = await dig(s.port, ['+noedns', 'big.app.test', 'TXT']);
  assert.match(retried.out, /ANSWER: 12/);
  const tcp = await dig(s.port, ['+tcp', 'big.app.test', 'TXT']);
  assert.match(tcp.out, /ANSWER: 12/);
});

test('dns server: a publish flips the answer, bumps the serial, shows the epoch; a client honouring the TTL follows within TTL + 1 s', async (t) => {
  const s = await startServer(t);
  const ep = { host: '127.0.0.1', port: s.port };
  const serial = async (): Promise<number> => Number((await dig(s.port, ['+short', 'app.test', 'SOA'])).out.split(' ')[2]);
  const before = await serial();
  assert.match((await dig(s.port, ['+short', '_epoch.www.app.test', 'TXT'])).out, /"site=primary" "epoch=0"/);

  // A client with a cache that honours the TTL of what it got.
  let cached: { ip: string; until: number } | undefined;
  const resolve = async (): Promise<string> => {
    if (cached && Date.now() < cached.until) return cached.ip;
    const r = await query(ep, 'www.app.test', 'A');
    const a = r.packet.answers.find((x: { type: string }) => x.type === 'A') as { data: string; ttl: number };
    cached = { ip: a.data, until: Date.now() + a.ttl * 1000 };
    return a.data;
  };
  assert.equal(await resolve(), '198.51.100.11');
  const published = Date.now();
  const st = s.store.publish('www.app.test', 'hotsite');
  assert.equal(st.epoch, 1);
  let seen = 0;
  while (Date.now() - published < 10_000) {
    if ((await resolve()) === '198.51.100.12') {
      seen = Date.now() - published;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(seen > 0 && seen <= (2 + 1) * 1000, `client saw the new site after ${seen} ms (TTL 2 s)`);
  assert.ok((await serial()) > before, 'serial grows with a change');
  assert.match((await dig(s.port, ['+short', '_epoch.www.app.test', 'TXT'])).out, /"site=hotsite" "epoch=1"/);
  // A stale epoch is refused and changes nothing.
  assert.throws(() => s.store.publish('www.app.test', 'primary', 1), /stale change .* epoch 1 is not above the current epoch 1/);
  assert.equal((await dig(s.port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.12');
});
