/**
 * BIND 9 as a real RFC 2136 peer for tests: named in a temp folder of the test (owned by the bind user,
 * which named runs as), listening on 127.0.0.1 at a free port, with one zone that a TSIG key may update.
 * Stopped by pid after the test, also when it fails.
 */
import { spawn } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { query } from '../../src/discovery/client.ts';
import type { TsigKey } from '../../src/discovery/tsig.ts';
import { freePort } from '../helpers/wait.ts';

export interface Bind {
  port: number;
  dir: string;
  log: () => string;
}

export async function startBind(t: { after: (fn: () => Promise<void> | void) => void }, dir: string, key: TsigKey, records: string[]): Promise<Bind> {
  mkdirSync(dir, { recursive: true });
  chmodSync(dirname(dir), 0o711);
  const port = await freePort();
  writeFileSync(join(dir, 'key.conf'), `key "${key.name}" { algorithm ${key.algorithm}; secret "${key.secret.toString('base64')}"; };\n`);
  writeFileSync(
    join(dir, 'named.conf'),
    `include "${dir}/key.conf";
options {
  directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
zone "app.test" { type master; file "${dir}/app.test.zone"; allow-update { key ${key.name}; }; };
`,
  );
  writeFileSync(
    join(dir, 'app.test.zone'),
    ['$TTL 5', '@ IN SOA ns1.app.test. hostmaster.app.test. 1 60 30 3600 5', '@ IN NS ns1.app.test.', 'ns1 IN A 127.0.0.1', ...records, ''].join('\n'),
  );
  const uid = Number(execFileSync('id', ['-u', 'bind']).toString());
  const gid = Number(execFileSync('id', ['-g', 'bind']).toString());
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir]);
  chownSync(dir, uid, gid);
  const child = spawn('/usr/sbin/named', ['-c', join(dir, 'named.conf'), '-u', 'bind', '-g'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  t.after(() => {
    child.kill('SIGKILL');
  });
  const until = Date.now() + 30_000;
  for (;;) {
    const ok = await query({ host: '127.0.0.1', port }, 'app.test', 'SOA', { timeoutMs: 500 }).then((r) => r.rcode === 0, () => false);
    if (ok) break;
    if (Date.now() > until || child.exitCode !== null) throw new Error(`named did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, dir, log: () => log + (() => { try { return readFileSync(join(dir, 'named.run'), 'utf8'); } catch { return ''; } })() };
}
