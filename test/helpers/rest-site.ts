/** A site serving a local repository folder over HTTPS (serveBackend behind a token), for link tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { getRequestListener } from '@hono/node-server';
import { LocalBackend, serveBackend, type RestServeOptions } from '../../src/repo/backend/index.ts';
import { loadTls } from '../../src/daemon/index.ts';

const made = new Set<string>();
after(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-rest-'));
  made.add(dir);
  return dir;
}

export const TOKEN = 'a-link-token-0123456789abcdef';

export interface RestSite {
  url: string;
  fingerprint: string;
  dir: string;
  certDir: string;
  server: Server;
  seen: string[];
  close: () => Promise<void>;
}

/** An HTTPS server on 127.0.0.1 serving the repository folder `<dir>/repo` under /v1/journals/web/. */
export async function startRestSite(opts: RestServeOptions = {}, again?: { port: number; dir: string; certDir: string }): Promise<RestSite> {
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

