/**
 * `api:` — the daemon's HTTP API: where it listens, its TLS, the tokens that may call it (with a role each)
 * and the folders a restore through it may write into.
 *
 * Tokens are kept as `sha256:<hex>` only. One given by `token_file` or `token_env` is read, trimmed and
 * hashed at once, so the configuration never holds a token in clear, and `config check` cannot print one.
 * Plain HTTP (`tls: false`) is refused anywhere but loopback: tokens would cross the network in clear.
 */
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { configDefaults } from './defaults.ts';
import { suggest, type Path, type Reader } from './reader.ts';
import type { ApiConfig, Role, TokenConfig } from './types.ts';

export const roles: readonly Role[] = ['viewer', 'operator', 'admin'];

/** 127.0.0.0/8, ::1 and localhost: addresses no other host can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIPv4(h) && h.startsWith('127.');
}

/** `sha256:<hex>` of a token as the API compares it (trimmed text, UTF-8). */
export function tokenHash(token: string): string {
  return `sha256:${createHash('sha256').update(token.trim(), 'utf8').digest('hex')}`;
}

function readToken(r: Reader, v: unknown, p: Path): TokenConfig {
  const m = r.map(v, p, ['name', 'role', 'hash', 'token_file', 'token_env']);
  const name = r.name(m['name'], [...p, 'name'], 'token');
  const role = m['role'];
  if (typeof role !== 'string' || !(roles as readonly string[]).includes(role)) {
    const near = typeof role === 'string' ? suggest(role, roles) : undefined;
    const what = role === undefined ? 'missing: ' : typeof role === 'string' ? `"${role}" is not a role: ` : '';
    r.fail([...p, 'role'], `${what}expected one of ${roles.join(', ')}${near !== undefined ? `; did you mean "${near}"?` : ''}`);
  }
  let hash: string;
  if (m['hash'] !== undefined) {
    if (m['token_file'] !== undefined || m['token_env'] !== undefined) r.fail([...p, m['token_file'] !== undefined ? 'token_file' : 'token_env'], 'hash is given too: expected one of hash, token_file or token_env', { at: 'key' });
    const h = m['hash'];
    // Not quoted back: a token pasted here by mistake is as good as a password.
    if (typeof h !== 'string' || !/^sha256:[0-9a-f]{64}$/i.test(h.trim())) r.fail([...p, 'hash'], 'expected sha256: and 64 hex digits (printf %s "$TOKEN" | sha256sum)');
    hash = h.trim().toLowerCase();
  } else {
    const secret = r.secret(m, p, 'token', { required: false, inline: false, trim: true, what: 'token' });
    if (!secret) r.fail([...p, 'hash'], 'missing: expected hash (sha256:<hex>), token_file or token_env');
    if (secret.value.length < 16) r.warn([...p, secret.from.startsWith('file') ? 'token_file' : 'token_env'], 'the token is shorter than 16 characters: easy to guess (openssl rand -hex 32 makes a good one)');
    hash = tokenHash(secret.value);
  }
  return { name, role: role as Role, hash };
}

export function readApi(r: Reader, v: unknown): ApiConfig {
  const P: Path = ['api'];
  const m = v === null ? {} : r.map(v, P, ['listen', 'tls', 'tokens', 'restore_paths']);
  const listen = m['listen'] === undefined ? { host: configDefaults.apiHost, port: configDefaults.apiPort } : r.endpoint(m['listen'], [...P, 'listen'], configDefaults.apiPort);
  const loopback = isLoopback(listen.host);
  let tls: ApiConfig['tls'];
  const t = m['tls'];
  const tp = [...P, 'tls'];
  if (t === undefined) tls = loopback ? false : 'self-signed';
  else if (t === 'self-signed') tls = 'self-signed';
  else if (t === false) {
    if (!loopback) r.fail(tp, `plain HTTP on ${listen.host} would send tokens across the network in clear: expected tls: self-signed or { cert, key }, or listen on loopback (127.0.0.1, ::1, localhost)`);
    tls = false;
  } else if (t !== null && typeof t === 'object' && !Array.isArray(t)) {
    const c = r.map(t, tp, ['cert', 'key']);
    tls = { cert: r.path(c['cert'], [...tp, 'cert'], 'the certificate file (PEM)'), key: r.path(c['key'], [...tp, 'key'], 'the private key file (PEM)') };
  } else r.fail(tp, 'expected self-signed, false (loopback only) or { cert: FILE, key: FILE }');
  const tokens = r.list(m['tokens'], [...P, 'tokens'], (x, p) => readToken(r, x, p), { optional: true });
  const names = new Map<string, number>();
  const hashes = new Map<string, number>();
  tokens.forEach((tk, i) => {
    const n = names.get(tk.name.toLowerCase());
    if (n !== undefined) r.fail([...P, 'tokens', i, 'name'], `"${tk.name}" is already the name of tokens[${n}]: expected names to differ`);
    names.set(tk.name.toLowerCase(), i);
    const h = hashes.get(tk.hash);
    if (h !== undefined) r.fail([...P, 'tokens', i], `the same token as tokens[${h}] (${tokens[h]!.name}): each token needs its own, so one can be revoked alone`);
    hashes.set(tk.hash, i);
  });
  return {
    listen,
    tls,
    tokens,
    restorePaths: r.list(m['restore_paths'], [...P, 'restore_paths'], (x, p) => r.absolutePath(x, p, 'an absolute folder'), { optional: true }),
  };
}
