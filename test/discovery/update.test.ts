/** RFC 2136 updates to the built-in server with nsupdate (the real client): signed, prerequisites, refusals. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from '../../src/core/index.ts';
import { parseKey } from '../../src/discovery/tsig.ts';
import { dig, keyArg, startServer, UPDATE_KEY, CONTROL_KEY } from './helpers.ts';

async function nsupdate(port: number, key: string, lines: string[]): Promise<{ code: number | null; out: string }> {
  const script = [`server 127.0.0.1 ${port}`, 'zone app.test', ...lines, 'send', ''].join('\n');
  const r = await run('nsupdate', ['-y', key], { input: script, timeoutMs: 20_000 });
  return { code: r.code, out: r.stdout.toString() + r.stderr };
}

test('nsupdate with the right key updates the built-in server; a wrong key gets NOTAUTH and changes nothing', async (t) => {
  const s = await startServer(t);
  const ok = await nsupdate(s.port, keyArg(UPDATE_KEY), ['update add files.app.test 30 A 198.51.100.40', 'update add files.app.test 30 TXT "hello world"']);
  assert.equal(ok.code, 0, ok.out);
  assert.equal((await dig(s.port, ['+short', 'files.app.test', 'A'])).out.trim(), '198.51.100.40');
  assert.equal((await dig(s.port, ['+short', 'files.app.test', 'TXT'])).out.trim(), '"hello world"');
  const serial = (await dig(s.port, ['+short', 'app.test', 'SOA'])).out.split(' ')[2];

  const wrongSecret = keyArg(parseKey('lb-update', 'hmac-sha256', Buffer.alloc(32, 1).toString('base64')));
  const bad = await nsupdate(s.port, wrongSecret, ['update delete files.app.test A', 'update add files.app.test 30 A 198.51.100.66']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /NOTAUTH\(BADSIG\)/);
  const unknownKey = keyArg(parseKey('someone-else', 'hmac-sha256', Buffer.alloc(32, 1).toString('base64')));
  const bad2 = await nsupdate(s.port, unknownKey, ['update add x.app.test 30 A 198.51.100.67']);
  assert.match(bad2.out, /NOTAUTH\(BADKEY\)/);
  assert.equal((await dig(s.port, ['+short', 'files.app.test', 'A'])).out.trim(), '198.51.100.40', 'nothing changed');
  assert.equal((await dig(s.port, ['+short', 'x.app.test', 'A'])).out.trim(), '');
  assert.equal((await dig(s.port, ['+short', 'app.test', 'SOA'])).out.split(' ')[2], serial);

  // Prerequisites: applied only if the record is as stated.
  const pre = await nsupdate(s.port, keyArg(UPDATE_KEY), ['prereq yxrrset files.app.test A 198.51.100.99', 'update delete files.app.test A']);
  assert.match(pre.out, /NXRRSET/);
  const pre2 = await nsupdate(s.port, keyArg(UPDATE_KEY), ['prereq yxrrset files.app.test A 198.51.100.40', 'update delete files.app.test A', 'update add files.app.test 30 A 198.51.100.41']);
  assert.equal(pre2.code, 0, pre2.out);
  assert.equal((await dig(s.port, ['+short', 'files.app.test', 'A'])).out.trim(), '198.51.100.41');
  assert.match((await nsupdate(s.port, keyArg(UPDATE_KEY), ['prereq nxdomain files.app.test', 'update add y.app.test 5 A 198.51.100.5'])).out, /YXDOMAIN/);

  // Service names belong to `lifeboat dns publish`; the update key may not publish.
  assert.match((await nsupdate(s.port, keyArg(UPDATE_KEY), ['update delete www.app.test A'])).out, /REFUSED/);
  assert.match((await nsupdate(s.port, keyArg(UPDATE_KEY), ['update add _lifeboat-publish.www.app.test 0 TXT "site=hotsite"'])).out, /REFUSED/);
  assert.equal((await dig(s.port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.11');
  // The control key publishes.
  const pub = await nsupdate(s.port, keyArg(CONTROL_KEY), ['update add _lifeboat-publish.www.app.test 0 TXT "site=hotsite" "epoch=5"']);
  assert.equal(pub.code, 0, pub.out);
  assert.equal((await dig(s.port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.12');
  const replay = await nsupdate(s.port, keyArg(CONTROL_KEY), ['update add _lifeboat-publish.www.app.test 0 TXT "site=primary" "epoch=5"']);
  assert.match(replay.out, /YXRRSET/);
  assert.equal((await dig(s.port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.12');
  // Unsigned updates are refused.
  const unsigned = await run('nsupdate', [], { input: `server 127.0.0.1 ${s.port}\nzone app.test\nupdate add z.app.test 5 A 198.51.100.9\nsend\n`, timeoutMs: 20_000 });
  assert.match(unsigned.stdout.toString() + unsigned.stderr, /REFUSED/);
});
