/**
 * Password keys: the master key, wrapped by keys derived from passwords.
 *
 * A key file (`keys/<id>`, plain JSON) holds the KDF name and parameters, a random salt and the master
 * key sealed under `scrypt(password, salt)`. Several key files may wrap the same master key (several
 * passwords); changing a password writes a new key file and removes the old one, never touching data.
 * A wrong password fails the seal's authentication, which is how it is recognised.
 */
import { createHash, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { currentUsername, defaults, IntegrityError, LifeboatError } from '../core/index.ts';
import type { Backend } from './backend/index.ts';
import { aad, open, seal, type MasterKey } from './crypto.ts';

const scrypt = promisify(scryptCb) as (
  password: string | Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

export interface KeyFile {
  version: 1;
  created: string;
  hostname: string;
  username: string;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  data: string;
}

export interface KeyInfo {
  id: string;
  created: string;
  hostname: string;
  username: string;
  current: boolean;
}

export const defaultKdf: KdfParams = { N: defaults.scryptN, r: defaults.scryptR, p: defaults.scryptP };

/** Derivations started ahead of time (`prederive`), by parameters, salt and a digest of the password. */
const early = new Map<string, Promise<Buffer>>();

function earlyKey(password: string, salt: Buffer, p: KdfParams): string {
  return `${p.N}:${p.r}:${p.p}:${salt.toString('base64')}:${createHash('sha256').update(password.normalize('NFC')).digest('base64')}`;
}

async function derive(password: string, salt: Buffer, p: KdfParams): Promise<Buffer> {
  const k = earlyKey(password, salt, p);
  const started = early.get(k);
  if (started) {
    early.delete(k);
    return started;
  }
  return scrypt(password.normalize('NFC'), salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + 64 * 1024 * 1024 });
}

/**
 * Start deriving the wrapping keys of these key files now, so that `unlock` finds them done. scrypt runs on
 * libuv's thread pool: started before the program's modules load, it overlaps their ~0.3 s of start-up
 * instead of following it (list snapshots, 2026-11-30). Invalid key files are ignored here; unlock reports them.
 */
export function prederive(password: string, keyFiles: Array<{ id: string; bytes: Buffer }>): void {
  for (const f of keyFiles.slice(0, 4)) {
    try {
      const k = parseKeyFile(f.id, f.bytes);
      const salt = Buffer.from(k.salt, 'base64');
      const key = earlyKey(password, salt, k);
      if (early.has(key)) continue;
      const pending = scrypt(password.normalize('NFC'), salt, 32, { N: k.N, r: k.r, p: k.p, maxmem: 256 * k.N * k.r + 64 * 1024 * 1024 });
      pending.catch(() => undefined); // if nobody asks, nobody hears of it
      early.set(key, pending);
    } catch {
      /* unlock will say what is wrong with it */
    }
  }
}

/** Seal `master` under `password` and store it as a new key file; returns its id. */
export async function addKey(backend: Backend, master: MasterKey, password: string, kdf: KdfParams = defaultKdf, createdAt = new Date()): Promise<string> {
  if (password.length === 0) throw new LifeboatError('USAGE', 'an empty password is not allowed');
  const salt = randomBytes(32);
  const wrapping = await derive(password, salt, kdf);
  const payload = Buffer.from(JSON.stringify({ encryption: master.encryption.toString('base64'), mac: master.mac.toString('base64') }));
  const file: KeyFile = {
    version: 1,
    created: createdAt.toISOString(),
    hostname: hostname(),
    username: currentUsername(),
    kdf: 'scrypt',
    ...kdf,
    salt: salt.toString('base64'),
    data: seal({ encryption: wrapping }, payload, aad('key')).toString('base64'),
  };
  const bytes = Buffer.from(JSON.stringify(file, null, 2) + '\n');
  const id = createHash('sha256').update(bytes).digest('hex');
  await backend.save({ type: 'key', name: id }, bytes);
  return id;
}


function parseKeyFile(id: string, bytes: Buffer): KeyFile {
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sum !== id) throw new IntegrityError(`key file ${id}: contents do not match its name`);
  let k: KeyFile;
  try {
    k = JSON.parse(bytes.toString('utf8')) as KeyFile;
  } catch (cause) {
    throw new IntegrityError(`key file ${id}: not valid JSON`, { cause });
  }
  if (typeof k !== 'object' || k === null || k.version !== 1 || k.kdf !== 'scrypt' || typeof k.salt !== 'string' || typeof k.data !== 'string') {
    throw new LifeboatError('REPO_VERSION', `key file ${id}: unsupported key format`);
  }
  // Bounds keep a planted key file from demanding unbounded memory or time (N=2^22, r=32 is 16 GiB).
  const pow2 = Number.isInteger(k.N) && k.N >= 1024 && k.N <= 1 << 22 && (k.N & (k.N - 1)) === 0;
  if (!pow2 || !Number.isInteger(k.r) || k.r < 1 || k.r > 32 || !Number.isInteger(k.p) || k.p < 1 || k.p > 16 || k.N * k.r > (1 << 22) * 8) {
    throw new IntegrityError(`key file ${id}: scrypt parameters out of range (N=${k.N}, r=${k.r}, p=${k.p})`);
  }
  return k;
}

/**
 * Find the key file that `password` opens and return the master key. Tries every key file (the
 * password does not say which one it belongs to). Throws WRONG_PASSWORD when none opens.
 */
export async function unlock(backend: Backend, password: string): Promise<{ master: MasterKey; keyId: string }> {
  const ids: string[] = [];
  for await (const f of backend.list('key')) ids.push(f.name);
  if (ids.length === 0) {
    throw new LifeboatError('REPO_NOT_FOUND', `no key files in ${backend.location}: not a Lifeboat repository`, {
      hint: 'create one with `lifeboat init`',
    });
  }
  ids.sort();
  const damaged: string[] = [];
  for (const id of ids) {
    let payload: Buffer;
    try {
      // A damaged or foreign key file must not stop the other passwords from working.
      const k = parseKeyFile(id, await backend.load({ type: 'key', name: id }));
      const wrapping = await derive(password, Buffer.from(k.salt, 'base64'), k);
      try {
        payload = open({ encryption: wrapping }, Buffer.from(k.data, 'base64'), `key ${id}`, aad('key'));
      } catch (err) {
        if (err instanceof IntegrityError) continue; // not this key's password
        throw err;
      }
    } catch (err) {
      if (err instanceof LifeboatError && err.code !== 'NOT_FOUND' && err.code !== 'ABORTED') {
        damaged.push(id);
        continue;
      }
      throw err;
    }
    const m = JSON.parse(payload.toString('utf8')) as { encryption: string; mac: string };
    return { master: { encryption: Buffer.from(m.encryption, 'base64'), mac: Buffer.from(m.mac, 'base64') }, keyId: id };
  }
  throw new LifeboatError('WRONG_PASSWORD', `wrong password or no key found for ${backend.location}${damaged.length ? ` (${damaged.length} damaged key file(s) skipped: ${damaged.map((d) => d.slice(0, 8)).join(', ')})` : ''}`, {
    hint: 'check --password-file, LIFEBOAT_PASSWORD or LIFEBOAT_PASSWORD_COMMAND; `lifeboat key list` shows the keys of a repository you can open',
  });
}

export async function listKeys(backend: Backend, currentId?: string): Promise<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for await (const f of backend.list('key')) {
    const k = parseKeyFile(f.name, await backend.load({ type: 'key', name: f.name }));
    out.push({ id: f.name, created: k.created, hostname: k.hostname, username: k.username, current: f.name === currentId });
  }
  return out.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id));
}

export async function removeKey(backend: Backend, id: string, currentId: string): Promise<void> {
  if (id === currentId) {
    throw new LifeboatError('USAGE', 'refusing to remove the key in use', {
      hint: 'open the repository with another password to remove this key, or use `lifeboat key passwd`',
    });
  }
  await backend.remove({ type: 'key', name: id });
}
