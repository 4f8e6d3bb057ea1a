/**
 * A repository served over HTTPS by another Lifeboat (the hot site's journal, see src/replication): the
 * Backend contract as plain HTTP requests on `<base>/<type>/<name>`, much like restic's REST backend.
 *
 *   POST   <base>/                 create the layout (409 if a config is there)
 *   GET    <base>/<type>/          list: JSON [{ "name", "size" }]
 *   HEAD   <base>/<type>/<name>    stat (content-length)
 *   GET    <base>/<type>/<name>    load; a Range header for part of it (416: past the end)
 *   POST   <base>/<type>/<name>    save (the body is the whole file; `x-lifeboat-durable: 0` for a reader's lock)
 *   DELETE <base>/<type>/<name>    remove
 *   POST   <base>/?stale=<ms>      removeStale
 *
 * The server's certificate is pinned by fingerprint (or checked against a CA) before any request, and so
 * before the token, is written. Network failures and 5xx answers are retried with backoff (every operation
 * is idempotent: content-addressed names, and a lock rewritten whole); 4xx answers are not.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Agent, request, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { abortError, errnoCode, LifeboatError, NotFoundError, systemClock, throwIfAborted, type Clock } from '../../core/index.ts';
import { fileTypes, type Backend, type FileInfo, type FileReader, type FileType, type FileWriter, type Handle, type LoadOptions, type OpOptions, type ReadOptions, type SaveOptions } from './backend.ts';

export interface RestOptions {
  /** Base URL of the repository, e.g. https://hotsite:7420/v1/journals/web */
  url: string;
  /** Sent as `Authorization: Bearer` once the server's certificate is verified. */
  token?: string;
  /** `sha256:<hex>`: the only server certificate accepted (a self-signed one). */
  fingerprint?: string;
  /** PEM: the CA the server's certificate must chain to (instead of the system's). */
  ca?: string;
  /** No byte sent or received for this long: the request fails (and is retried). Default 60 s. */
  timeoutMs?: number;
  /** Attempts of a request that fails on the network or with a 5xx. Default 6 (about 6 s of backoff). */
  attempts?: number;
  /** Waits before `bytes` are sent (a bandwidth limit on the link). */
  throttle?: (bytes: number, signal?: AbortSignal) => Promise<void>;
  clock?: Clock;
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A file name as the repository makes them: hex ids, `config`, PostgreSQL's WAL names; never a path. */
export const NAME = /^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$/;

function checkName(h: Handle): void {
  if (!fileTypes.includes(h.type) || !NAME.test(h.name)) {
    throw new LifeboatError('BACKEND', `not a repository file name: ${h.type}/${h.name}`);
  }
}

function corrupt(message: string): LifeboatError {
  return new LifeboatError('CORRUPT', message);
}

/** `sha256:<lowercase hex>` of a DER certificate. */
function fingerprintOfDer(der: Buffer): string {
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}

export class RestBackend implements Backend {
  readonly location: string;
  readonly #base: URL;
  readonly #o: RestOptions;
  readonly #agent: Agent;
  readonly #clock: Clock;

  constructor(opts: RestOptions) {
    const base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    if (base.protocol !== 'https:') throw new LifeboatError('CONFIG', `${opts.url}: a remote repository is reached over https only`);
    if (base.username || base.password) throw new LifeboatError('CONFIG', `${base.origin}: give the token separately, not in the URL`);
    this.#base = base;
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
    this.location = base.href;
    const fingerprint = opts.fingerprint?.toLowerCase();
    const host = base.hostname.replace(/^\[|\]$/g, '');
    this.#agent = new Agent({ keepAlive: true, maxSockets: 8, ...(opts.ca ? { ca: opts.ca } : {}) });
    if (fingerprint) {
      // The socket is handed to the request only once its certificate has the pinned fingerprint: nothing,
      // not even the token, is written to a server that is not the one pinned.
      (this.#agent as unknown as { createConnection: (o: object, cb: (err: Error | null, s?: Duplex) => void) => undefined }).createConnection = (_o, cb) => {
        const sock: TLSSocket = tlsConnect({ host, port: Number(base.port || 443), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...(isIP(host) ? {} : { servername: host }) });
        sock.once('secureConnect', () => {
          const cert = sock.getPeerCertificate();
          const got = cert?.raw ? fingerprintOfDer(cert.raw) : 'none';
          if (got !== fingerprint) {
            sock.destroy();
            cb(new LifeboatError('BACKEND', `${base.origin} presented a certificate with fingerprint ${got}, not the pinned ${fingerprint}; nothing was sent`, { hint: 'pin the fingerprint the site printed at start; otherwise something else answers at that address' }));
            return;
          }
          cb(null, sock);
        });
        sock.once('error', (err) => cb(err));
        return undefined;
      };
    }
  }

  #url(h?: Handle | FileType, query?: string): URL {
    const path = h === undefined ? '' : typeof h === 'string' ? `${h}/` : `${h.type}/${h.name}`;
    const u = new URL(path, this.#base);
    if (query) u.search = query;
    return u;
  }

  /** One request, retried on network failures and 5xx answers. */
  async #call(method: string, u: URL, opts: { body?: Uint8Array; headers?: Record<string, string>; signal?: AbortSignal; maxBody?: number } = {}): Promise<Answer> {
    const attempts = this.#o.attempts ?? 6;
    let delay = 100;
    for (let i = 1; ; i++) {
      throwIfAborted(opts.signal);
      try {
        if (opts.body && this.#o.throttle) await this.#o.throttle(opts.body.length, opts.signal);
        const a = await this.#once(method, u, opts);
        if (a.status < 500 || i >= attempts) return a;
      } catch (err) {
        throwIfAborted(opts.signal);
        if (err instanceof LifeboatError && err.code !== 'BACKEND') throw err;
        if (err instanceof LifeboatError && /pinned/.test(err.message)) throw err;
        if (i >= attempts) {
          throw new LifeboatError('BACKEND', `cannot reach ${this.#base.origin}: ${(err as Error).message}`, {
            cause: err,
            hint: 'check that the site is up and reachable (its address, port and firewall); Lifeboat tried again with backoff',
            context: { code: errnoCode(err) },
          });
        }
      }
      await this.#clock.sleep(delay, opts.signal);
      delay = Math.min(delay * 2, 5000);
    }
  }

  #once(method: string, u: URL, opts: { body?: Uint8Array; headers?: Record<string, string>; signal?: AbortSignal; maxBody?: number }): Promise<Answer> {
    const timeoutMs = this.#o.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const ro: RequestOptions = {
        method,
        agent: this.#agent,
        headers: {
          ...(this.#o.token ? { authorization: `Bearer ${this.#o.token}` } : {}),
          ...(opts.body ? { 'content-type': 'application/octet-stream', 'content-length': String(opts.body.length) } : {}),
          ...opts.headers,
        },
        timeout: timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      };
      const req = request(u, ro);
      req.on('timeout', () => req.destroy(new LifeboatError('BACKEND', `${method} ${u.pathname}: nothing received for ${Math.round(timeoutMs / 1000)} s`)));
      req.on('error', (err) => reject(opts.signal?.aborted ? abortError(opts.signal) : err instanceof LifeboatError ? err : new LifeboatError('BACKEND', `${method} ${u.pathname}: ${err.message}`, { cause: err })));
      req.on('response', (res) => {
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (opts.maxBody !== undefined && res.statusCode === 200 && declared > opts.maxBody) {
          res.destroy();
          reject(corrupt(`${u.pathname} is ${declared} bytes, over the ${opts.maxBody} such a file may have`));
          return;
        }
        const chunks: Buffer[] = [];
        let got = 0;
        res.on('data', (c: Buffer) => {
          got += c.length;
          if (opts.maxBody !== undefined && res.statusCode === 200 && got > opts.maxBody) {
            res.destroy(corrupt(`${u.pathname} is over the ${opts.maxBody} bytes such a file may have`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (err) => reject(err instanceof LifeboatError ? err : new LifeboatError('BACKEND', `${method} ${u.pathname}: ${err.message}`, { cause: err })));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.end(opts.body);
    });
  }

  /** A refusal or an unexpected status as the Backend contract's errors. */
  #fail(a: Answer, what: string, h?: Handle): never {
    let message = `status ${a.status}`;
    try {
      const e = (JSON.parse(a.body.toString('utf8')) as { error?: { message?: string } }).error;
      if (e?.message) message = e.message;
    } catch {
      // not JSON: the status says it
    }
    const file = h ? `${h.type}/${h.name}` : this.#base.pathname;
    if (a.status === 404 && h) throw new NotFoundError(`${h.type} ${h.name} not found at ${this.location}`, { context: { ...h } });
    if (a.status === 416) throw corrupt(`${file} is shorter than the range asked for: truncated (${message})`);
    if (a.status === 401 || a.status === 403) {
      throw new LifeboatError('BACKEND', `${this.#base.origin} refused to ${what} ${file}: ${message}`, { hint: 'check the token this site presents and the role the other site gives it' });
    }
    throw new LifeboatError('BACKEND', `${this.#base.origin} could not ${what} ${file}: ${message}`, { context: { status: a.status } });
  }

  async create(opts: OpOptions = {}): Promise<void> {
    const a = await this.#call('POST', this.#url(), { body: new Uint8Array(0), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (a.status === 409) throw new LifeboatError('REPO_EXISTS', `a repository already exists at ${this.location}`);
    if (a.status !== 200 && a.status !== 201) this.#fail(a, 'create');
  }

  async save(h: Handle, data: Uint8Array, opts: SaveOptions = {}): Promise<void> {
    checkName(h);
    const a = await this.#call('POST', this.#url(h), { body: data, headers: { 'x-lifeboat-durable': opts.durable === false ? '0' : '1', 'x-lifeboat-sha256': createHash('sha256').update(data).digest('hex') }, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (a.status !== 200 && a.status !== 201) this.#fail(a, 'save', h);
  }

  async load(h: Handle, opts: LoadOptions = {}): Promise<Buffer> {
    checkName(h);
    const offset = opts.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0 || (opts.length !== undefined && (!Number.isSafeInteger(opts.length) || opts.length < 0))) {
      throw new LifeboatError('BACKEND', `invalid range offset=${offset} length=${String(opts.length)} for ${h.type}/${h.name}`);
    }
    if (opts.length === 0) {
      await this.stat(h, opts).then((s) => {
        if (s.size < offset) throw corrupt(`${h.type}/${h.name} is ${s.size} bytes, shorter than offset ${offset}: truncated`);
      });
      return Buffer.alloc(0);
    }
    const ranged = offset > 0 || opts.length !== undefined;
    const range = ranged ? `bytes=${offset}-${opts.length !== undefined ? offset + opts.length - 1 : ''}` : undefined;
    const a = await this.#call('GET', this.#url(h), { ...(range ? { headers: { range } } : {}), ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.maxSize !== undefined && !ranged ? { maxBody: opts.maxSize } : {}) });
    if (a.status !== 200 && a.status !== 206) this.#fail(a, 'read', h);
    if (opts.length !== undefined && a.body.length !== opts.length) {
      throw corrupt(`${h.type}/${h.name}: ${a.body.length} of the ${opts.length} bytes asked for at ${offset}: truncated`);
    }
    return a.body;
  }

  /**
   * The whole file is fetched when it is opened: the contract reads the file as it was then (a remove
   * afterwards must not show), and one request beats many ranged ones over a link (files are packs: 16 MiB).
   */
  async reader(h: Handle, opts: OpOptions = {}): Promise<FileReader> {
    const data = await this.load(h, opts);
    let closed = false;
    return {
      size: data.length,
      read: (offset: number, length: number, ro: ReadOptions = {}): Promise<Buffer> => {
        if (closed) return Promise.reject(new LifeboatError('BACKEND', `${h.type}/${h.name}: read after close`));
        if (ro.signal?.aborted) return Promise.reject(abortError(ro.signal));
        if (offset < 0 || length < 0 || offset + length > data.length) return Promise.reject(corrupt(`${h.type}/${h.name} is ${data.length} bytes; ${length} at ${offset} is past its end: truncated`));
        if (ro.into) {
          if (ro.into.length < length) return Promise.reject(new LifeboatError('BACKEND', `${h.type}/${h.name}: a buffer of ${ro.into.length} bytes for ${length}`));
          data.copy(ro.into, 0, offset, offset + length);
          return Promise.resolve(Buffer.from(ro.into.buffer, ro.into.byteOffset, length));
        }
        return Promise.resolve(Buffer.from(data.subarray(offset, offset + length)));
      },
      close: () => {
        closed = true;
        return Promise.resolve();
      },
    };
  }

  async stat(h: Handle, opts: OpOptions = {}): Promise<FileInfo> {
    checkName(h);
    const a = await this.#call('HEAD', this.#url(h), opts.signal ? { signal: opts.signal } : {});
    if (a.status !== 200) this.#fail(a, 'stat', h);
    return { name: h.name, size: Number(a.headers['content-length'] ?? 0) };
  }

  async *list(type: FileType, opts: OpOptions = {}): AsyncIterable<FileInfo> {
    if (!fileTypes.includes(type)) throw new LifeboatError('BACKEND', `not a repository folder: ${type}`);
    const a = await this.#call('GET', this.#url(type), opts.signal ? { signal: opts.signal } : {});
    if (a.status !== 200) this.#fail(a, 'list');
    let items: unknown;
    try {
      items = JSON.parse(a.body.toString('utf8'));
    } catch {
      throw new LifeboatError('BACKEND', `${this.#base.origin} answered a listing of ${type} that is not JSON`);
    }
    if (!Array.isArray(items)) throw new LifeboatError('BACKEND', `${this.#base.origin} answered a listing of ${type} that is not a list`);
    for (const it of items as Array<{ name?: unknown; size?: unknown }>) {
      if (typeof it?.name !== 'string' || typeof it.size !== 'number' || !NAME.test(it.name)) throw new LifeboatError('BACKEND', `${this.#base.origin} listed a file that is not a repository file: ${JSON.stringify(it).slice(0, 100)}`);
      yield { name: it.name, size: it.size };
    }
  }

  async remove(h: Handle, opts: OpOptions = {}): Promise<void> {
    checkName(h);
    const a = await this.#call('DELETE', this.#url(h), opts.signal ? { signal: opts.signal } : {});
    if (a.status !== 200 && a.status !== 204) this.#fail(a, 'remove', h);
  }

  async removeStale(before: number, opts: OpOptions = {}): Promise<number> {
    const a = await this.#call('POST', this.#url(undefined, `stale=${Math.floor(before)}`), { body: new Uint8Array(0), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (a.status !== 200) this.#fail(a, 'clean');
    return Number((JSON.parse(a.body.toString('utf8')) as { removed?: number }).removed ?? 0);
  }

  /** Pieces are kept in memory and sent whole at commit: a file (a pack) is at most a few tens of MiB. */
  writer(type: Exclude<FileType, 'config'>, opts: OpOptions = {}): FileWriter {
    const pieces: Buffer[] = [];
    let done = false;
    return {
      write: (data: Uint8Array): Promise<void> => {
        if (done) return Promise.reject(new LifeboatError('BACKEND', 'write after commit or discard'));
        if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal));
        pieces.push(Buffer.from(data));
        return Promise.resolve();
      },
      commit: async (name: string): Promise<void> => {
        if (done) throw new LifeboatError('BACKEND', 'commit after commit or discard');
        done = true;
        await this.save({ type, name }, Buffer.concat(pieces), opts);
        pieces.length = 0;
      },
      discard: (): Promise<void> => {
        done = true;
        pieces.length = 0;
        return Promise.resolve();
      },
    };
  }

  close(): Promise<void> {
    this.#agent.destroy();
    return Promise.resolve();
  }
}
