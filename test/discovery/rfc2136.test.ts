/** The RFC 2136 publisher against a real BIND 9: signed updates with prerequisites, verified with dig. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { LifeboatError, run } from '../../src/core/index.ts';
import { Rfc2136Publisher } from '../../src/discovery/rfc2136.ts';
import { parseKey } from '../../src/discovery/tsig.ts';
import { tempDir } from '../helpers/repo.ts';
import { startBind } from './bind.ts';
import { dig, keyArg, SERVICES, UPDATE_KEY } from './helpers.ts';

test('rfc2136 publisher against BIND: update verified by dig; wrong key named; a foreign change is reported, not overwritten', async (t) => {
  const dir = await tempDir(t);
  const bind = await startBind(t, join(dir, 'bind'), UPDATE_KEY, ['www IN A 198.51.100.11']);
  const server = { host: '127.0.0.1', port: bind.port };
  const services = SERVICES.filter((s) => s.name === 'www.app.test' || s.name === '_db._tcp.app.test');
  const pub = new Rfc2136Publisher({ server, zone: 'app.test', key: UPDATE_KEY, services, stateFile: join(dir, 'rfc2136.json') });

  const r = await pub.publish('www.app.test', 'hotsite');
  assert.equal(r.epoch, 1);
  assert.equal((await dig(bind.port, ['+short', 'www.app.test', 'A'])).out.trim(), '198.51.100.12');
  assert.equal((await dig(bind.port, ['+short', 'www.app.test', 'AAAA'])).out.trim(), '2001:db8::12');
  assert.match((await dig(bind.port, ['+short', '_epoch.www.app.test', 'TXT'])).out, /"site=hotsite" "epoch=1"/);
  assert.deepEqual({ site: (await pub.current('www.app.test')).site, epoch: (await pub.current('www.app.test')).epoch }, { site: 'hotsite', epoch: 1 });
  await pub.publish('_db._tcp.app.test', 'hotsite');
  assert.equal((await dig(bind.port, ['+short', '_db._tcp.app.test', 'SRV'])).out.trim(), '10 5 5432 db2.app.test.');

  // A wrong key: refused, and the error names the zone and the key.
  const wrong = new Rfc2136Publisher({ server, zone: 'app.test', key: parseKey('lb-update', 'hmac-sha256', Buffer.alloc(32, 1).toString('base64')), services });
  await assert.rejects(wrong.publish('www.app.test', 'primary', { epoch: 7 }), (e: unknown) => {
    assert.ok(e instanceof LifeboatError, String((e as Error).stack));
    assert.match(e.message, /refused the update of zone app\.test signed with key lb-update: NOTAUTH\(BADSIG\)/);
    return true;
  });
  const unknownKey = new Rfc2136Publisher({ server, zone: 'app.test', key: parseKey('nobody', 'hmac-sha256', Buffer.alloc(32, 1).toString('base64')), services });
  await assert.rejects(unknownKey.publish('www.app.test', 'primary', { epoch: 7 }), /key nobody: NOTAUTH\(BADKEY\)/);
  assert.equal((await dig(bind.port, ['+short', 'www.app.test', 'A'])).out.trim(), '198.51.100.12');

  // Someone else changes the record: the next publish finds the prerequisite broken and overwrites nothing.
  const other = await run('nsupdate', ['-y', keyArg(UPDATE_KEY)], {
    input: `server 127.0.0.1 ${bind.port}\nzone app.test\nupdate delete www.app.test A\nupdate add www.app.test 5 A 203.0.113.5\nsend\n`,
    timeoutMs: 20_000,
  });
  assert.equal(other.code, 0, other.stderr);
  await assert.rejects(pub.publish('www.app.test', 'primary'), (e: unknown) => {
    assert.ok(e instanceof LifeboatError && e.code === 'EXISTS', String((e as Error).message));
    assert.match(e.message, /not what Lifeboat last wrote \(NXRRSET\)/);
    return true;
  });
  assert.equal((await dig(bind.port, ['+short', 'www.app.test', 'A'])).out.trim(), '203.0.113.5');
  // A stale epoch is refused before anything is sent.
  await assert.rejects(pub.publish('_db._tcp.app.test', 'primary', { epoch: 1 }), (e: unknown) => e instanceof LifeboatError && e.code === 'OUT_OF_RANGE');
});
