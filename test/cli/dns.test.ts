/** `lifeboat dns` end to end: two servers from one configuration converge; publish, status, ttl; config errors. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { query } from '../../src/discovery/client.ts';
import { dig } from '../discovery/helpers.ts';
import { tempDir } from '../helpers/repo.ts';
import { freePort } from '../helpers/wait.ts';
import { lifeboat, show } from './run-cli.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function config(dir: string, me: number, peer: number, name: string): string {
  const file = join(dir, `${name}.yaml`);
  const k = (n: number): string => Buffer.alloc(32, n).toString('base64');
  writeFileSync(
    file,
    `site: ${name}
dns:
  listen: [127.0.0.1:${me}]
  peers: [127.0.0.1:${peer}]
  sync_interval_ms: 200
  state: ${join(dir, `${name}-state.json`)}
  keys:
    lb-control: { secret: "${k(9)}" }
    lb-transfer: { secret: "${k(11)}" }
  control_key: lb-control
  transfer_key: lb-transfer
  zones:
    - name: app.test
      ns: [ns1.app.test]
  services:
    www.app.test:
      ttl: 30
      sites:
        primary: { a: [198.51.100.11] }
        hotsite: { a: [198.51.100.12] }
  publishers:
    - { kind: builtin, servers: [127.0.0.1:${me}, 127.0.0.1:${peer}] }
`,
  );
  return file;
}

test('cli dns: two servers from one configuration converge; publish, status and ttl; errors name file, line and field', async (t) => {
  const dir = await tempDir(t);
  const [pa, pb] = [await freePort(), await freePort()];
  const ca = config(dir, pa, pb, 'primary');
  const cb = config(dir, pb, pa, 'hotsite');
  for (const c of [ca, cb]) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'dns', 'serve', '-c', c], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    t.after(() => {
      child.kill('SIGKILL');
    });
  }
  for (const port of [pa, pb]) {
    const until = Date.now() + 60_000;
    while (!(await query({ host: '127.0.0.1', port }, 'www.app.test', 'A', { timeoutMs: 300 }).then(() => true, () => false))) {
      if (Date.now() > until) throw new Error(`dns serve on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const pub = await lifeboat(['--json', 'dns', 'publish', 'www.app.test', '--site', 'hotsite', '-c', ca]);
  assert.equal(pub.code, 0, show(pub));
  const [r] = JSON.parse(pub.stdout) as Array<{ epoch: number; verified: unknown[]; max_cached_ttl: number }>;
  assert.equal(r!.epoch, 1);
  assert.equal(r!.verified.length, 2);
  assert.equal(r!.max_cached_ttl, 30);
  for (const port of [pa, pb]) assert.equal((await dig(port, ['+short', 'www.app.test'])).out.trim(), '198.51.100.12');

  const st = await lifeboat(['dns', 'status', '-c', cb]);
  assert.equal(st.code, 0, show(st));
  assert.match(st.stdout, /www\.app\.test\s+hotsite\s+1\s+30 s/);

  const stale = await lifeboat(['dns', 'publish', 'www.app.test', '--site', 'primary', '--epoch', '1', '-c', cb]);
  assert.equal(stale.code, 2, show(stale));
  assert.match(stale.stderr, /stale change for www\.app\.test: epoch 1 is not above the current epoch 1/);

  const ttl = await lifeboat(['dns', 'ttl', 'www.app.test', '--set', '5', '-c', ca]);
  assert.equal(ttl.code, 0, show(ttl));
  assert.match(ttl.stdout, /TTL 5 s .*up to 30 s/);
  for (const port of [pa, pb]) {
    const until = Date.now() + 20_000;
    while (!/\s5\s+IN\s+A/.test((await dig(port, ['www.app.test'])).out) && Date.now() < until) await new Promise((res) => setTimeout(res, 200));
    assert.match((await dig(port, ['www.app.test'])).out, /www\.app\.test\.\s+5\s+IN\s+A\s+198\.51\.100\.12/);
  }

  // Configuration errors: file, line, column and field.
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'dns:\n  zones:\n    - name: app.test\n      ns: [ns1.app.test]\n  services:\n    www.app.test:\n      ttl: fast\n      sites: { a: { a: [1.2.3.4] } }\n');
  const e1 = await lifeboat(['dns', 'status', '-c', bad]);
  assert.equal(e1.code, 2, show(e1));
  assert.match(e1.stderr, /bad\.yaml:7:12: dns\.services\.www\.app\.test\.ttl: expected a whole number/);
  writeFileSync(bad, 'dns:\n  zones:\n    - name: app.test\n      nss: [ns1.app.test]\n');
  const e2 = await lifeboat(['dns', 'status', '-c', bad]);
  assert.match(e2.stderr, /bad\.yaml:4:\d+: dns\.zones\[0\]\.nss: unknown field/);
  writeFileSync(bad, 'dns:\n  zones: [\n');
  assert.match((await lifeboat(['dns', 'status', '-c', bad])).stderr, /bad\.yaml:\d+:\d+: not valid YAML/);
});

test('cli dns serve: an address in use is named, with who to ask, not reported as a bug', async (t) => {
  const dir = await tempDir(t);
  const port = await freePort();
  const { createSocket } = await import('node:dgram');
  const holder = createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(port, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const r = await lifeboat(['dns', 'serve', '-c', config(dir, port, await freePort(), 'primary')]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, new RegExp(`cannot listen on UDP 127\\.0\\.0\\.1:${port}: another process holds it`));
  assert.match(r.stderr, /hint: stop that process/);
  assert.doesNotMatch(r.stderr, /internal error/);
});

test('cli dns: a configuration error stops serve at once; publish of an unknown service or site is a usage error', async (t) => {
  const dir = await tempDir(t);
  const [pa, pb] = [await freePort(), await freePort()];
  const good = config(dir, pa, pb, 'primary');
  const text = (await import('node:fs')).readFileSync(good, 'utf8');
  // Peers without a transfer key: refused with the field named, before anything listens (it used to keep
  // serving, deaf to SIGTERM).
  const noKey = join(dir, 'nokey.yaml');
  writeFileSync(noKey, text.replace(/ {2}transfer_key: lb-transfer\n/, ''));
  const r1 = await lifeboat(['dns', 'serve', '-c', noKey]);
  assert.equal(r1.code, 2, show(r1));
  assert.match(r1.stderr, /transfer_key/);
  // Two services that differ only in case.
  const twice = join(dir, 'twice.yaml');
  writeFileSync(twice, text.replace('  services:\n', '  services:\n    WWW.app.test:\n      sites:\n        primary: { a: [198.51.100.99] }\n'));
  const r2 = await lifeboat(['dns', 'serve', '-c', twice]);
  assert.equal(r2.code, 2, show(r2));
  assert.match(r2.stderr, /case-insensitive/);
  // publish: what the configuration does not know (no server needs to run for that).
  const r3 = await lifeboat(['dns', 'publish', 'nope.app.test', '--site', 'hotsite', '-c', good]);
  assert.equal(r3.code, 2, show(r3));
  assert.match(r3.stderr, /no service nope\.app\.test/);
  const r4 = await lifeboat(['dns', 'publish', 'www.app.test', '--site', 'mars', '-c', good]);
  assert.equal(r4.code, 2, show(r4));
  assert.match(r4.stderr, /no answers for site mars/);
});
