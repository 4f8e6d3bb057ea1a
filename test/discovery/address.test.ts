/**
 * The address publisher in network namespaces: the service address moves from host A to host B, a client
 * in a third namespace reaches B on it; taking an address another host still answers on is refused.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LifeboatError } from '../../src/core/index.ts';
import { AddressPublisher } from '../../src/discovery/address.ts';
import { makeHosts } from '../helpers/netns.ts';
import { tempDir } from '../helpers/repo.ts';
import { waitFor } from '../helpers/wait.ts';

const VIP = '198.51.100.100';
/** A TCP server that answers every connection with its host's name. */
const server = (name: string): string[] => [process.execPath, '-e', `require('net').createServer((s) => s.end('${name}\\n')).listen(8080, '0.0.0.0')`];

async function ask(hosts: ReturnType<typeof makeHosts>): Promise<string> {
  // Connect from the client's namespace; a fresh process each time, so nothing but ARP is cached.
  const script = `const s = require('net').connect({ host: '${VIP}', port: 8080, timeout: 3000 }); let d = ''; s.on('data', (b) => (d += b)); s.on('end', () => { process.stdout.write(d); }); s.on('timeout', () => { process.stdout.write('timeout'); s.destroy(); }); s.on('error', (e) => process.stdout.write('error ' + e.code));`;
  return hosts.exec('cl', [process.execPath, '-e', script]).trim();
}

test('address publisher: the address moves from A to B and a client reaches B; taking an address still answered is refused', async (t) => {
  const dir = await tempDir(t);
  const hosts = makeHosts(t, { sa: '198.51.100.11/24', sb: '198.51.100.12/24', cl: '198.51.100.13/24' });
  hosts.spawn('sa', server('site-a'));
  hosts.spawn('sb', server('site-b'));
  const services = { 'www.app.test': { address: `${VIP}/24` } };
  const a = new AddressPublisher({ site: 'a', interface: 'e0', netns: hosts.ns('sa'), services, stateFile: join(dir, 'a.json'), probeSeconds: 2 });
  const b = new AddressPublisher({ site: 'b', interface: 'e0', netns: hosts.ns('sb'), services, stateFile: join(dir, 'b.json'), probeSeconds: 2 });

  await a.publish('www.app.test', 'a');
  assert.equal(await a.holds('www.app.test'), true);
  await waitFor('site A to answer on the address', async () => (await ask(hosts)) === 'site-a', 20_000, 200);

  // B may not take the address while A still answers on it.
  await assert.rejects(b.publish('www.app.test', 'b'), (e: unknown) => {
    assert.ok(e instanceof LifeboatError && e.code === 'EXISTS');
    assert.match(e.message, /198\.51\.100\.100 is still answered by [0-9a-f:]{17}/);
    return true;
  });
  assert.equal(await b.holds('www.app.test'), false);
  assert.equal(await ask(hosts), 'site-a');

  // A is fenced (the address removed there); B takes it and announces it: the client, which still has
  // A's MAC in its ARP cache, now reaches B.
  assert.equal(await a.release('www.app.test'), true);
  const r = await b.publish('www.app.test', 'b');
  assert.equal(r.site, 'b');
  await waitFor('the client to reach site B', async () => (await ask(hosts)) === 'site-b', 20_000, 200);
  assert.equal((await b.current('www.app.test')).site, 'b');
  await assert.rejects(b.publish('www.app.test', 'b', { epoch: 1 }), (e: unknown) => e instanceof LifeboatError && e.code === 'OUT_OF_RANGE');
  await assert.rejects(a.publish('www.app.test', 'b'), /this host is site a/);
});
