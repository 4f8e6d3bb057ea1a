/** Test helpers for discovery: a zone with services, a built-in server on a free port, dig. */
import { run } from '../../src/core/index.ts';
import { DnsServer } from '../../src/discovery/server.ts';
import { parseKey, type TsigKey } from '../../src/discovery/tsig.ts';
import { ZoneStore } from '../../src/discovery/zone.ts';
import type { ServiceDef, ZoneDef } from '../../src/discovery/records.ts';

export const ZONE: ZoneDef = {
  name: 'app.test',
  ns: ['ns1.app.test', 'ns2.app.test'],
  rname: 'hostmaster.app.test',
  soa: { refresh: 60, retry: 30, expire: 3600, minimum: 5, ttl: 60 },
  glue: { 'ns1.app.test': { a: ['127.0.0.1'] } },
};

export const SERVICES: ServiceDef[] = [
  {
    name: 'www.app.test',
    ttl: 2,
    sites: {
      primary: { a: ['198.51.100.11'], aaaa: ['2001:db8::11'], txt: [['served by primary']] },
      hotsite: { a: ['198.51.100.12'], aaaa: ['2001:db8::12'], txt: [['served by hotsite']] },
    },
  },
  {
    name: '_db._tcp.app.test',
    ttl: 5,
    sites: {
      primary: { srv: [{ priority: 10, weight: 5, port: 5432, target: 'db1.app.test' }] },
      hotsite: { srv: [{ priority: 10, weight: 5, port: 5432, target: 'db2.app.test' }] },
    },
  },
  { name: 'api.app.test', ttl: 5, sites: { primary: { cname: 'www.app.test' }, hotsite: { cname: 'www.app.test' } } },
  { name: 'big.app.test', ttl: 5, sites: { primary: { txt: Array.from({ length: 12 }, (_, i) => [`${i} ${'x'.repeat(200)}`]) } } },
];

export const UPDATE_KEY: TsigKey = parseKey('lb-update', 'hmac-sha256', Buffer.alloc(32, 7).toString('base64'));
export const CONTROL_KEY: TsigKey = parseKey('lb-control', 'hmac-sha256', Buffer.alloc(32, 9).toString('base64'));
export const TRANSFER_KEY: TsigKey = parseKey('lb-transfer', 'hmac-sha256', Buffer.alloc(32, 11).toString('base64'));

export async function startServer(t: { after: (fn: () => Promise<void>) => void }, opts: { stateFile?: string; host?: string; port?: number; log?: (e: Record<string, unknown>) => void } = {}): Promise<DnsServer> {
  const store = new ZoneStore([ZONE], SERVICES, opts.stateFile ? { stateFile: opts.stateFile } : {});
  const server = new DnsServer(store, {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    keys: {
      update: { 'app.test': ['lb-update'] },
      control: 'lb-control',
      transfer: 'lb-transfer',
      all: new Map([UPDATE_KEY, CONTROL_KEY, TRANSFER_KEY].map((k) => [k.name, k])),
    },
    ...(opts.log ? { log: opts.log } : {}),
  });
  await server.start();
  t.after(() => server.stop());
  return server;
}

export async function dig(port: number, args: string[], host = '127.0.0.1'): Promise<{ out: string; code: number | null }> {
  const r = await run('dig', ['-p', String(port), `@${host}`, '+time=3', '+tries=1', ...args], { timeoutMs: 20_000 });
  return { out: r.stdout.toString(), code: r.code };
}

export function keyArg(k: TsigKey): string {
  return `${k.algorithm}:${k.name}:${k.secret.toString('base64')}`;
}
