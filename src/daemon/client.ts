/**
 * How the CLI talks to a running daemon: the API's address from the configuration, a token, and the
 * certificate pinned by its SHA-256 fingerprint (given, or read from the daemon's own certificate file when
 * this user may read it). A certificate with another fingerprint is refused before any token is sent.
 */
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config/index.ts';
import { errnoCode, LifeboatError, type ErrorCode } from '../core/index.ts';
import { fingerprintOf, normalizeFingerprint } from './tls.ts';

/** In the data folder, readable by the daemon's user only: an admin token for the CLI on the same host. */
export const LOCAL_TOKEN_FILE = 'local.token';

export interface ApiEndpoint {
  url: string;
  token?: string;
  /** `sha256:<hex>`: the only certificate accepted. Without it, the system's CAs decide. */
  fingerprint?: string;
}

/** The endpoint of the daemon a configuration describes. */
export function daemonEndpoint(config: Config, opts: { token?: string; fingerprint?: string } = {}): ApiEndpoint {
  if (!config.api) throw new LifeboatError('CONFIG', `${config.file} has no api section: the daemon has no API to ask`, { hint: 'add `api: { listen: 127.0.0.1:7420, tokens: [...] }` and restart the daemon' });
  const { host, port } = config.api.listen;
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const tls = config.api.tls !== false;
  const url = `${tls ? 'https' : 'http'}://${h.includes(':') ? `[${h}]` : h}:${port}`;
  let fingerprint: string | undefined;
  if (opts.fingerprint !== undefined) {
    fingerprint = normalizeFingerprint(opts.fingerprint);
    if (!fingerprint) throw new LifeboatError('USAGE', `${opts.fingerprint} is not a SHA-256 fingerprint`, { hint: 'give the sha256:... the daemon printed at start (or openssl x509 -fingerprint -sha256 shows)' });
  } else if (tls) {
    const certFile = config.api.tls === 'self-signed' ? join(config.site?.data ?? '', 'api.crt') : config.api.tls ? config.api.tls.cert : '';
    try {
      if (certFile && existsSync(certFile)) fingerprint = fingerprintOf(readFileSync(certFile, 'utf8'));
    } catch {
      // Unreadable here: the system's CAs decide, as for any server.
    }
  }
  // The daemon's own admin token for this host's administrator, when this user may read it.
  let token = opts.token;
  if (token === undefined && config.site) {
    try {
      token = readFileSync(join(config.site.data, LOCAL_TOKEN_FILE), 'utf8').trim() || undefined;
    } catch {
      // Not readable by this user: a token must be given.
    }
  }
  return { url, ...(token ? { token } : {}), ...(fingerprint ? { fingerprint } : {}) };
}

// 404 is the daemon refusing (no such group or job): exit 15 as `run` documents, not 1 for an unknown code.
const CODE_OF_STATUS: Record<number, ErrorCode> = { 400: 'USAGE', 401: 'DAEMON', 403: 'DAEMON', 404: 'DAEMON', 409: 'EXISTS', 413: 'USAGE' };

/** One API call; the answer's JSON, or a LifeboatError with the daemon's message and hint. */
export async function apiRequest<T>(ep: ApiEndpoint, method: 'GET' | 'POST', path: string, body?: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
  const u = new URL(path, ep.url);
  const https = u.protocol === 'https:';
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) };
  const send = async (): Promise<{ res: IncomingMessage; text: string }> => {
    // Pinned: a TLS connection is made and its certificate checked first; the request (and its token) is
    // written only on a connection whose certificate has the pinned fingerprint.
    const verified = https && ep.fingerprint ? await pinnedSocket(u, ep, opts.timeoutMs ?? 30_000) : undefined;
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(u, {
        method,
        headers: { ...headers, ...(ep.token ? { authorization: `Bearer ${ep.token}` } : {}) },
        timeout: opts.timeoutMs ?? 30_000,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(verified ? { createConnection: () => verified } : {}),
      });
      req.on('timeout', () => req.destroy(new LifeboatError('DAEMON', `the daemon at ${ep.url} did not answer within ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s`)));
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ res, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.end(payload);
    });
  };
  let r: { res: IncomingMessage; text: string };
  try {
    r = await send();
  } catch (err) {
    if (err instanceof LifeboatError) throw err;
    const code = errnoCode(err);
    if (code === 'ECONNREFUSED' || code === 'ENOENT') {
      throw new LifeboatError('DAEMON', `no daemon answers at ${ep.url}`, { cause: err, hint: 'start one with `lifeboat daemon -c lifeboat.yaml` (or `systemctl start lifeboat`)' });
    }
    throw new LifeboatError('DAEMON', `cannot reach the daemon at ${ep.url}: ${(err as Error).message}`, { cause: err, hint: 'check api.listen in the configuration and that the daemon runs' });
  }
  let json: unknown;
  try {
    json = r.text ? JSON.parse(r.text) : {};
  } catch {
    throw new LifeboatError('DAEMON', `the daemon at ${ep.url} answered ${r.res.statusCode} with something that is not JSON`);
  }
  const status = r.res.statusCode ?? 0;
  if (status >= 400) {
    const e = (json as { error?: { code?: string; message?: string; hint?: string } }).error;
    const hint = e?.hint ?? (status === 401 ? 'give a token with --token-file FILE or LIFEBOAT_TOKEN' : undefined);
    throw new LifeboatError(CODE_OF_STATUS[status] ?? 'DAEMON', `the daemon refused: ${e?.message ?? `status ${status}`}`, { ...(hint ? { hint } : {}), context: { status, code: e?.code } });
  }
  return json as T;
}

/** A TLS connection to the daemon whose certificate has the pinned fingerprint (else closed, and an error). */
function pinnedSocket(u: URL, ep: ApiEndpoint, timeoutMs: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const sock = tlsConnect({ host, port: Number(u.port || 443), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(isIP(host) ? {} : { servername: host }) });
    const timer = setTimeout(() => sock.destroy(new LifeboatError('DAEMON', `the daemon at ${ep.url} did not answer within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      const fp = normalizeFingerprint(sock.getPeerCertificate().fingerprint256 ?? '');
      if (fp !== ep.fingerprint) {
        sock.destroy();
        reject(new LifeboatError('DAEMON', `the daemon at ${ep.url} presented a certificate with fingerprint ${fp ?? 'none'}, not the pinned ${ep.fingerprint}; nothing was sent`, { hint: 'if the daemon made a new certificate, pin the fingerprint it printed at start (--fingerprint); otherwise something else answers at that address' }));
        return;
      }
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
