/** Two built-in servers for one zone converge after a publish at either; a replayed epoch is refused. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LifeboatError } from '../../src/core/index.ts';
import { BuiltinPublisher } from '../../src/discovery/publisher.ts';
import { PeerSync } from '../../src/discovery/sync.ts';
import { parseKey } from '../../src/discovery/tsig.ts';
import { tempDir } from '../helpers/repo.ts';
import { CONTROL_KEY, dig, startServer, TRANSFER_KEY } from './helpers.ts';

test('two built-in servers converge after a publish at either; a stale epoch is refused; state survives a restart', async (t) => {
  const dir = await tempDir(t);
  const a = await startServer(t, { stateFile: join(dir, 'a.json') });
  const b = await startServer(t, { stateFile: join(dir, 'b.json') });
  const ea = { host: '127.0.0.1', port: a.port };
  const eb = { host: '127.0.0.1', port: b.port };
  const syncA = new PeerSync(a, [eb], TRANSFER_KEY, { intervalMs: 200 });
  const syncB = new PeerSync(b, [ea], TRANSFER_KEY, { intervalMs: 200 });
  await syncA.start();
  await syncB.start();
  t.after(async () => {
    await syncA.stop();
    await syncB.stop();
  });
  const zoneOf = (): string => 'app.test';

  const viaA = new BuiltinPublisher({ servers: [ea, eb], controlKey: CONTROL_KEY, zoneOf, timeoutMs: 20_000 });
  const r1 = await viaA.publish('www.app.test', 'hotsite');
  assert.equal(r1.epoch, 1);
  assert.equal(r1.verified.length, 2);
  for (const s of [a, b]) assert.equal((await dig(s.port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.12');
  // Same serial on both: it is derived from the state.
  const serial = async (port: number): Promise<string> => (await dig(port, ['+short', 'app.test', 'SOA'])).out.split(' ')[2]!;
  assert.equal(await serial(a.port), await serial(b.port));

  const viaB = new BuiltinPublisher({ servers: [eb, ea], controlKey: CONTROL_KEY, zoneOf, timeoutMs: 20_000 });
  const r2 = await viaB.publish('www.app.test', 'primary');
  assert.equal(r2.epoch, 2);
  for (const s of [a, b]) assert.equal((await dig(s.port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.11');
  const cur = await viaA.current('www.app.test');
  assert.equal(cur.site, 'primary');
  assert.equal(cur.epoch, 2);

  // A replayed (old) epoch is refused by the servers and changes nothing.
  await assert.rejects(viaA.publish('www.app.test', 'hotsite', { epoch: 1 }), (e: unknown) => e instanceof LifeboatError && e.code === 'OUT_OF_RANGE');
  assert.throws(() => b.store.publish('www.app.test', 'hotsite', 2), /stale/);
  for (const s of [a, b]) assert.equal((await dig(s.port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.11');

  // A peer that pulls with the wrong key gets nothing.
  const rogue = new PeerSync(b, [ea], parseKey('lb-transfer', 'hmac-sha256', Buffer.alloc(32, 3).toString('base64')));
  a.store.publish('_db._tcp.app.test', 'hotsite');
  await rogue.pullOnce();
  assert.equal(rogue.status.get(`127.0.0.1:${a.port}`)?.ok, false);
  assert.match(rogue.status.get(`127.0.0.1:${a.port}`)?.error ?? '', /NOTAUTH|signed/);

  // Epochs survive a restart (the state file), so a restarted server never goes back.
  await syncA.stop();
  await a.stop();
  const a2 = await startServer(t, { stateFile: join(dir, 'a.json') });
  assert.equal(a2.store.state('www.app.test')?.epoch, 2);
  assert.equal((await dig(a2.port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.11');
});
