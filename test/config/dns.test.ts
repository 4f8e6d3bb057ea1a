/** `dns:` — read into discovery's own DiscoverySettings, as before the split (same defaults, same checks). */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { serverKeys, zoneStore } from '../../src/discovery/index.ts';
import { tempDir } from '../helpers/repo.ts';
import { assertError, read, readError, yaml } from './helpers.ts';

const KEY = Buffer.alloc(32, 7).toString('base64');

test('dns: the section becomes DiscoverySettings with its defaults, usable by discovery', async (t) => {
  const dir = await tempDir(t);
  writeFileSync(join(dir, 'control.key'), `${KEY}\n`);
  const { cfg } = read(
    yaml`
      site: primary
      dns:
        listen: 127.0.0.1:5353
        peers: ["[::1]:5354"]
        state: dns.json
        keys:
          LB-Control: { secret_file: control.key }
          lb-transfer: { secret: "${KEY}", algorithm: hmac-sha512 }
        control_key: lb-control
        transfer_key: lb-transfer
        zones:
          - name: App.Example.
            ns: [ns1.app.example]
            glue: { ns1.app.example: { a: [192.0.2.1], aaaa: ["2001:db8::1"] } }
            update_keys: [lb-transfer]
        services:
          www.app.example:
            sites:
              primary: { a: [198.51.100.80] }
              hotsite: { cname: www.hot.example }
        publishers:
          - { kind: rfc2136, server: 192.0.2.53, zone: app.example, key: lb-control, services: [www.app.example], state: rfc.json }
          - { kind: address, interface: eth0, services: { www.app.example: 198.51.100.100/24 } }
    `,
    { file: join(dir, 'lifeboat.yaml') },
  );
  const d = cfg.dns!;
  assert.deepEqual(d.listen, [{ host: '127.0.0.1', port: 5353 }]);
  assert.deepEqual(d.peers, [{ host: '::1', port: 5354 }]);
  assert.equal(d.state, join(dir, 'dns.json'));
  assert.deepEqual([...d.keys.values()], [
    { name: 'lb-control', algorithm: 'hmac-sha256', secret: KEY },
    { name: 'lb-transfer', algorithm: 'hmac-sha512', secret: KEY },
  ]);
  assert.equal(d.control_key, 'lb-control');
  assert.equal(d.sync_interval_ms, 1000);
  assert.deepEqual(d.zones, [
    {
      name: 'app.example',
      ns: ['ns1.app.example'],
      hostmaster: 'hostmaster.app.example',
      soa: { refresh: 3600, retry: 600, expire: 604800, minimum: 5, ttl: 60 },
      glue: { 'ns1.app.example': { a: ['192.0.2.1'], aaaa: ['2001:db8::1'] } },
      update_keys: ['lb-transfer'],
    },
  ]);
  assert.deepEqual(d.services, [{ name: 'www.app.example', ttl: 5, sites: { primary: { a: ['198.51.100.80'] }, hotsite: { cname: 'www.hot.example' } } }]);
  assert.deepEqual(d.publishers, [
    { kind: 'rfc2136', server: { host: '192.0.2.53', port: 53 }, zone: 'app.example', key: 'lb-control', services: ['www.app.example'], state: join(dir, 'rfc.json') },
    { kind: 'address', interface: 'eth0', services: { 'www.app.example': '198.51.100.100/24' } },
  ]);
  // Discovery takes it as it is.
  assert.equal(zoneStore(d).zones[0]?.name, 'app.example');
  assert.equal(serverKeys(d).control, 'lb-control');
  // Defaults of an almost empty section.
  const min = read('dns: {}\n').cfg.dns!;
  assert.deepEqual(min.listen, [{ host: '127.0.0.1', port: 53 }]);
  assert.deepEqual([min.peers, min.zones, min.services, min.publishers, min.keys.size], [[], [], [], [], 0]);
});

test('dns: errors keep their positions and checks; key secrets are never quoted', () => {
  assertError('dns:\n  zones:\n    - name: app.test\n      nss: [ns1.app.test]\n', { line: 4, col: 7, field: 'dns.zones[0].nss' }, /^unknown field; did you mean "ns"\?/);
  assertError('dns:\n  zones:\n    - name: app.test\n      ns: [ns1.app.test]\n  services:\n    www.app.test:\n      ttl: fast\n      sites: { a: { a: [1.2.3.4] } }\n', { line: 7, col: 12, field: 'dns.services.www.app.test.ttl' }, /^expected a whole number from 0 to 86400$/);
  const bad = assertError('dns:\n  keys:\n    k: { secret: "not-base64-but-secret!" }\n', { line: 3, col: 18, field: 'dns.keys.k.secret' }, /^expected base64 of at least 16 bytes$/);
  assert.ok(!bad.message.includes('not-base64'));
  assertError(`dns:\n  keys: { t: { secret: "${KEY}" } }\n  peers: [10.0.0.2]\n`, { line: 3, col: 10, field: 'dns.peers' }, /peers need dns\.transfer_key/);
  assertError('dns:\n  zones:\n    - { name: a.test, ns: [ns.a.test] }\n    - { name: A.test., ns: [ns.a.test] }\n', { line: 4, col: 15, field: 'dns.zones[1].name' }, /zone a\.test is given twice/);
  assertError('dns:\n  zones: [{ name: a.test, ns: [ns.a.test] }]\n  services:\n    www.b.test: { sites: { p: { a: [192.0.2.1] } } }\n', { line: 4, col: 17, field: 'dns.services.www.b.test' }, /is in none of the zones \(a\.test\)/);
  assertError('dns:\n  control_key: nope\n', { line: 2, col: 16, field: 'dns.control_key' }, /no key "nope" under dns\.keys/);
  assertError('dns:\n  publishers: [{ kind: bind }]\n', { line: 2, col: 24, field: 'dns.publishers[0].kind' }, /"bind" is not builtin, rfc2136 or address/);
  assert.match(readError('dns:\n  zones: [\n').message, /^\/etc\/lifeboat\/lifeboat\.yaml:\d+:\d+: not valid YAML/);
});
