/**
 * The server half of rest.ts: a Backend offered over HTTP, as a function from a fetch-API `Request` to a
 * `Response` (the daemon mounts it behind its own TLS and authentication). It checks what it is sent, since
 * the other end of a link is another site: names are repository names, every save may carry the SHA-256
 * of its bytes, content-addressed files (keys, snapshots, index files, packs) may be required to hash to
 * their names,
 * and a `verify` hook looks inside (the replication layer checks every chunk of a pack against its keyed
 * id). A file that fails is refused (422) and not stored, so the sender sends it again.
 */
import { createHash } from 'node:crypto';
import { isLifeboatError, LifeboatError } from '../../core/index.ts';
import { fileTypes, type Backend, type FileType, type Handle } from './backend.ts';
import { NAME } from './rest.ts';

export interface RestServeOptions {
  /** Looks inside a file before it is stored; throws a LifeboatError to refuse it. */
  verify?: (h: Handle, data: Buffer) => Promise<void> | void;
  /** Largest body accepted (default 64 MiB: packs are 16 MiB). */
  maxBytes?: number;
  /** Refuse every change (a journal opened only for reading). */
  readOnly?: boolean;
  /** Keys, snapshots, index files and packs must hash to their names (true for a repository Lifeboat writes). */
  contentNames?: boolean;
}

/** Files named by the SHA-256 of their bytes. */
const CONTENT_ADDRESSED: ReadonlySet<FileType> = new Set(['key', 'snapshot', 'index', 'pack']);

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });
}

function refuse(status: number, code: string, message: string): Response {
  return json(status, { error: { code, message } });
}

/** A LifeboatError of the backend as the answer the client maps back (rest.ts #fail). */
function answerError(err: unknown): Response {
  if (isLifeboatError(err, 'NOT_FOUND')) return refuse(404, 'NOT_FOUND', err.message);
  if (isLifeboatError(err, 'CORRUPT') && /truncated/.test(err.message)) return refuse(416, 'CORRUPT', err.message);
  if (isLifeboatError(err, 'REPO_EXISTS')) return refuse(409, 'REPO_EXISTS', err.message);
  if (isLifeboatError(err, 'ABORTED')) return refuse(503, 'ABORTED', err.message);
  if (isLifeboatError(err)) return refuse(500, err.code, err.message);
  return refuse(500, 'INTERNAL', 'internal error');
}

/** Reads a body of at most `max` bytes; undefined when it is larger (nothing more is read). */
async function readBody(req: Request, max: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (declared > max) return undefined;
  if (!req.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req.body as unknown as AsyncIterable<Uint8Array>) {
    n += c.length;
    if (n > max) return undefined;
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}

function parseRange(header: string | null): { offset: number; length?: number } | undefined | 'bad' {
  if (header === null) return undefined;
  const m = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(header.trim());
  if (!m) return 'bad';
  const offset = Number(m[1]);
  if (m[2] === '') return { offset };
  const last = Number(m[2]);
  if (last < offset) return 'bad';
  return { offset, length: last - offset + 1 };
}

/**
 * Answers one request for `rest` (the path below the repository's base: '', 'pack/', 'pack/<name>').
 * `signal` ends the backend operation when the request is abandoned or the server stops.
 */
export async function serveBackend(backend: Backend, req: Request, rest: string, opts: RestServeOptions = {}, signal?: AbortSignal): Promise<Response> {
  const method = req.method.toUpperCase();
  const sig = signal ? { signal } : {};
  try {
    if (rest === '') {
      if (method !== 'POST') return refuse(405, 'USAGE', 'POST creates the repository or removes stale temp files');
      if (opts.readOnly) return refuse(403, 'FORBIDDEN', 'this repository is read-only here');
      const stale = new URL(req.url).searchParams.get('stale');
      if (stale !== null) {
        if (!/^\d{1,15}$/.test(stale)) return refuse(400, 'USAGE', 'stale takes a time in ms');
        return json(200, { removed: await backend.removeStale(Number(stale), sig) });
      }
      await backend.create(sig);
      return json(201, { created: true });
    }
    const m = /^([a-z]+)\/([^/]*)$/.exec(rest);
    const type = m?.[1] as FileType | undefined;
    if (!m || !type || !fileTypes.includes(type)) return refuse(404, 'NOT_FOUND', `no such folder: ${rest.slice(0, 100)}`);
    const name = m[2]!;
    if (name === '') {
      if (method !== 'GET') return refuse(405, 'USAGE', 'a folder is listed with GET');
      const out: Array<{ name: string; size: number }> = [];
      for await (const f of backend.list(type, sig)) out.push({ name: f.name, size: f.size });
      return json(200, out);
    }
    if (!NAME.test(name) || (type === 'config' && name !== 'config')) return refuse(400, 'USAGE', `not a repository file name: ${name.slice(0, 100)}`);
    const h: Handle = { type, name };
    switch (method) {
      case 'HEAD': {
        const st = await backend.stat(h, sig);
        return new Response(null, { status: 200, headers: { 'content-length': String(st.size) } });
      }
      case 'GET': {
        const range = parseRange(req.headers.get('range'));
        if (range === 'bad') return refuse(400, 'USAGE', 'Range takes bytes=FIRST-LAST or bytes=FIRST-');
        const data = await backend.load(h, { ...(range ? { offset: range.offset, ...(range.length !== undefined ? { length: range.length } : {}) } : {}), ...sig });
        return new Response(new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.length), { status: range ? 206 : 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.length) } });
      }
      case 'POST': {
        if (opts.readOnly) return refuse(403, 'FORBIDDEN', 'this repository is read-only here');
        const data = await readBody(req, opts.maxBytes ?? 64 * 1024 * 1024);
        if (!data) return refuse(413, 'TOO_LARGE', `files are limited to ${opts.maxBytes ?? 64 * 1024 * 1024} bytes`);
        const digest = createHash('sha256').update(data).digest('hex');
        const claimed = req.headers.get('x-lifeboat-sha256');
        if ((claimed !== null && claimed !== digest) || (opts.contentNames && CONTENT_ADDRESSED.has(type) && name !== digest)) {
          return refuse(422, 'INTEGRITY', `${type}/${name}: the bytes received do not hash to ${claimed !== null && claimed !== digest ? 'the sum sent with them' : 'the name'}: altered in transit; nothing was stored`);
        }
        if (opts.verify) {
          try {
            await opts.verify(h, data);
          } catch (err) {
            if (!isLifeboatError(err)) throw err;
            return refuse(422, err.code, `${type}/${name}: ${err.message}; nothing was stored`);
          }
        }
        await backend.save(h, data, { durable: req.headers.get('x-lifeboat-durable') !== '0', ...sig });
        return json(201, { saved: true });
      }
      case 'DELETE': {
        if (opts.readOnly) return refuse(403, 'FORBIDDEN', 'this repository is read-only here');
        await backend.remove(h, sig);
        return json(200, { removed: true });
      }
      default:
        return refuse(405, 'USAGE', `${method} is not a repository operation`);
    }
  } catch (err) {
    if (err instanceof LifeboatError || !(err instanceof Error)) return answerError(err);
    return answerError(new LifeboatError('INTERNAL', err.message, { cause: err }));
  }
}
