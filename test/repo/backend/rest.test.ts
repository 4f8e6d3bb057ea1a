/**
 * RestBackend against serveBackend over real HTTPS on loopback: the shared conformance suite, then what a
 * link adds: a pinned certificate (a wrong one gets nothing, not even the token), a token the server
 * refuses, bytes altered in transit refused and not stored, a verify hook, names that are not repository
 * names, retries across a server that goes away and comes back.
 */
import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { isLifeboatError, LifeboatError } from '../../../src/core/index.ts';
import { LocalBackend, RestBackend, serveBackend, type Handle, type RestServeOptions } from '../../../src/repo/backend/index.ts';
import { loadTls } from '../../../src/daemon/index.ts';
import { backendConformance } from './conformance.ts';

const made = new Set<string>();
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-rest-'));
  made.add(dir);
  return dir;
}

const TOKEN = 'a-link-token-0123456789abcdef';

interface Site {
  url: string;
  fingerprint: string;
  dir: string;
  certDir: string;
  server: Server;
  seen: string[];
  close: () => Promise<void>;
}

/** An HTTPS server on 127.0.0.1 serving a local repository folder under /v1/journals/web/. */
async function startSite(opts: RestServeOptions = {}, again?: { port: number; dir: string; certDir: string }): Promise<Site> {
  const root = again?.dir ?? (await tempDir());
  const certDir = again?.certDir ?? (await tempDir());
  const port = again?.port ?? 0;
  const tls = await loadTls('self-signed', certDir, '127.0.0.1');
  const backend = new LocalBackend(join(root, 'repo'));
  const seen: string[] = [];
  const prefix = '/v1/journals/web/';
  const listener = getRequestListener(async (req: Request) => {
    const u = new URL(req.url);
    seen.push(`${req.method} ${u.pathname} ${req.headers.get('authorization') ?? '-'}`);
    if (req.headers.get('authorization') !== `Bearer ${TOKEN}`) return new Response(JSON.stringify({ error: { message: 'unknown token' } }), { status: 401 });
    if (!u.pathname.startsWith(prefix) && `${u.pathname}/` !== prefix) return new Response('{}', { status: 404 });
    return serveBackend(backend, req, u.pathname.slice(prefix.length), opts);
  });
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => void listener(req, res));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${p}${prefix}`,
    fingerprint: tls.fingerprint,
    dir: root,
    certDir,
    server,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

backendConformance('RestBackend', async () => {
  const site = await startSite();
  const backend = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint, attempts: 2 });
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      await site.close();
    },
  };
}, { stagedWrites: false });

async function rejectsCode(p: Promise<unknown>, code: string, re?: RegExp): Promise<LifeboatError> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return isLifeboatError(err) && err.code === code && (!re || re.test(err.message));
  });
  return caught as LifeboatError;
}

describe('RestBackend: the link', () => {
  it('a wrong pinned fingerprint gets nothing: no request, no token reaches the server', async (t) => {
    const site = await startSite();
    t.after(() => site.close());
    const b = new RestBackend({ url: site.url, token: TOKEN, fingerprint: `sha256:${'0'.repeat(64)}`, attempts: 1 });
    t.after(() => b.close());
    await rejectsCode(b.create(), 'BACKEND', /pinned/);
    assert.deepEqual(site.seen, []);
    // The right one works.
    const ok = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint });
    t.after(() => ok.close());
    await ok.create();
    assert.equal(site.seen.length, 1);
  });

  it('an unknown token is refused with a hint; http:// and credentials in the URL are refused at once', async (t) => {
    const site = await startSite();
    t.after(() => site.close());
    const b = new RestBackend({ url: site.url, token: 'wrong-token', fingerprint: site.fingerprint });
    t.after(() => b.close());
    const err = await rejectsCode(b.create(), 'BACKEND', /refused/);
    assert.match(err.hint ?? '', /token/);
    assert.throws(() => new RestBackend({ url: site.url.replace('https', 'http') }), /https only/);
    assert.throws(() => new RestBackend({ url: site.url.replace('https://', 'https://u:p@') }), /token separately/);
  });

  it('bytes altered in transit (or a verify hook refusing) are refused and nothing is stored; names that are not repository names never leave', async (t) => {
    const refused: string[] = [];
    const site = await startSite({
      contentNames: true,
      verify: (h: Handle, data: Buffer) => {
        if (data.includes(Buffer.from('poison'))) {
          refused.push(h.name);
          throw new LifeboatError('INTEGRITY', 'a chunk does not match its id');
        }
      },
    });
    t.after(() => site.close());
    const b = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint });
    t.after(() => b.close());
    await b.create();
    const data = randomBytes(1000);
    const name = createHash('sha256').update(data).digest('hex');
    // A pack whose bytes do not hash to its name: what a flipped bit on the way looks like.
    const other = Buffer.from(data);
    other[10]! ^= 1;
    await rejectsCode(b.save({ type: 'pack', name }, other), 'BACKEND', /altered in transit/);
    const poisoned = Buffer.concat([data, Buffer.from('poison')]);
    await rejectsCode(b.save({ type: 'pack', name: createHash('sha256').update(poisoned).digest('hex') }, poisoned), 'BACKEND', /does not match its id/);
    assert.equal(refused.length, 1);
    const stored = await readdir(join(site.dir, 'repo', 'data'), { recursive: true }).catch(() => []);
    assert.deepEqual(stored.filter((f) => String(f).length > 10), [], 'nothing stored');
    await b.save({ type: 'pack', name }, data);
    assert.ok((await b.load({ type: 'pack', name })).equals(data));
    for (const bad of ['../config', 'a/b', '.hidden', '']) await assert.rejects(b.save({ type: 'lock', name: bad }, data), /not a repository file name/);
  });

  it('a server that goes away and comes back: requests are retried with backoff and succeed', async (t) => {
    const site = await startSite();
    const port = Number(new URL(site.url).port);
    const b = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint, attempts: 8 });
    t.after(() => b.close());
    await b.create();
    await site.close();
    const data = randomBytes(5000);
    const name = createHash('sha256').update(data).digest('hex');
    const saving = b.save({ type: 'snapshot', name }, data);
    // Back on the same port, with the same folder and certificate, while the save is retrying.
    const again = await startSite({}, { port, dir: site.dir, certDir: site.certDir });
    t.after(() => again.close());
    await saving;
    assert.ok((await b.load({ type: 'snapshot', name })).equals(data));
  });
});
