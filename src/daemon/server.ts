/**
 * The API's listener: HTTPS with the configured or self-signed certificate, or plain HTTP when the
 * configuration allows it (loopback only). A service like the others: `start` resolves once it listens
 * and rejects with a clear error when it cannot (address in use, no permission).
 */
import { createServer as createHttps } from 'node:https';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { errnoCode, LifeboatError, type Health, type Service } from '../core/index.ts';
import type { TlsMaterial } from './tls.ts';

/** Open connections one client address may hold (as nginx's limit_conn): far more than any real client needs, far fewer than the descriptors the daemon has (LimitNOFILE=65536 in docs/lifeboat.service). */
const PER_ADDRESS = 256;

/** What serves requests (a Hono app). */
export interface FetchApp {
  fetch: (request: Request, env?: unknown) => Response | Promise<Response>;
}

export class ApiServer implements Service {
  readonly name = 'api';
  readonly #app: FetchApp;
  readonly #host: string;
  readonly #port: number;
  #tls: TlsMaterial | undefined;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  constructor(app: FetchApp, opts: { host: string; port: number; tls?: TlsMaterial }) {
    this.#app = app;
    this.#host = opts.host;
    this.#port = opts.port;
    this.#tls = opts.tls;
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  get url(): string {
    const h = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `${this.#tls ? 'https' : 'http'}://${h === '0.0.0.0' ? '127.0.0.1' : h === '[::]' ? '[::1]' : h}:${this.port}`;
  }

  async start(signal: AbortSignal): Promise<void> {
    const server = createAdaptorServer({
      fetch: (req: Request, env: unknown) => this.#app.fetch(req, env),
      ...(this.#tls ? { createServer: createHttps, serverOptions: { key: this.#tls.key, cert: this.#tls.cert, minVersion: 'TLSv1.2' as const, handshakeTimeout: 10_000 } } : {}),
    }) as unknown as Server;
    // Slow clients: whole requests within 30 s, headers within 10 s; a connection silent for 30 s (one that
    // never sends a byte too) is closed, a TLS handshake must end within 10 s, and at most 4,096 are open.
    const http = server as unknown as { requestTimeout: number; headersTimeout: number; keepAliveTimeout: number; timeout: number; maxConnections: number };
    http.requestTimeout = 30_000;
    http.headersTimeout = 10_000;
    http.keepAliveTimeout = 5_000;
    http.timeout = 30_000;
    http.maxConnections = 4096;
    // One address may hold at most PER_ADDRESS connections: a client opening hundreds (and sending nothing)
    // cannot use up the daemon's file descriptors, which its backups need.
    const perAddress = new Map<string, number>();
    server.on('connection', (s) => {
      const from = s.remoteAddress ?? '?';
      const n = (perAddress.get(from) ?? 0) + 1;
      if (n > PER_ADDRESS) {
        s.destroy();
        return;
      }
      perAddress.set(from, n);
      this.#sockets.add(s);
      s.on('close', () => {
        this.#sockets.delete(s);
        const left = (perAddress.get(from) ?? 1) - 1;
        if (left > 0) perAddress.set(from, left);
        else perAddress.delete(from);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => {
        const code = errnoCode(err);
        const why = code === 'EADDRINUSE' ? 'another process holds it' : code === 'EACCES' ? 'permission denied' : code === 'EADDRNOTAVAIL' ? 'not an address of this machine' : (err as Error).message;
        reject(new LifeboatError('NETWORK', `the API cannot listen on ${this.#host}:${this.#port}: ${why}`, { cause: err, hint: 'change api.listen in the configuration, or stop the process that holds the port' }));
      });
      server.listen(this.#port, this.#host, () => resolve());
    });
    this.#server = server;
    signal.addEventListener('abort', () => void this.stop(), { once: true });
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    const closed = new Promise<void>((r) => s.close(() => r()));
    for (const sock of this.#sockets) sock.destroy();
    await closed;
  }

  health(): Health {
    return this.#server ? { ok: true, url: this.url, tls: !!this.#tls } : { ok: false, detail: 'not listening' };
  }
}
