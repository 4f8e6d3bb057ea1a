/**
 * Password keys: the master key, wrapped by keys derived from passwords.
 *
 * A key file (`keys/<id>`, plain JSON) holds the KDF name and parameters, a random salt and the master
 * key sealed under a key derived from the password by scrypt (kdf.ts). Several key files may wrap the same
 * master key (several passwords); changing a password writes a new key file and removes the old one,
 * never touching data.
 * A wrong password fails the seal's authentication, which is how it is recognised.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { compareStrings, currentUsername, defaults, IntegrityError, LifeboatError } from '../core/index.ts';
import type { Backend } from './backend/index.ts';
import { aad, open, seal, type MasterKey } from './crypto.ts';
import { currentKdf, defaultKdf, deriveWrappingKey, parseKeyFile, type KdfParams, type KeyFile } from './kdf.ts';

export interface KeyInfo {
  id: string;
  created: string;
  hostname: string;
  username: string;
  current: boolean;
}

/** Seal `master` under `password` and store it as a new key file; returns its id. */
export async function addKey(backend: Backend, master: MasterKey, password: string, kdf: KdfParams = defaultKdf, createdAt = new Date()): Promise<string> {
  if (password.length === 0) throw new LifeboatError('USAGE', 'an empty password is not allowed');
  const salt = randomBytes(32);
  const wrapping = await deriveWrappingKey(currentKdf, password, salt, kdf);
  const payload = Buffer.from(JSON.stringify({ encryption: master.encryption.toString('base64'), mac: master.mac.toString('base64') }));
  const file: KeyFile = {
    version: 1,
    created: createdAt.toISOString(),
    hostname: hostname(),
    username: currentUsername(),
    kdf: currentKdf,
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    salt: salt.toString('base64'),
    data: seal({ encryption: wrapping }, payload, aad('key')).toString('base64'),
  };
  const bytes = Buffer.from(JSON.stringify(file, null, 2) + '\n');
  const id = createHash('sha256').update(bytes).digest('hex');
  await backend.save({ type: 'key', name: id }, bytes);
  return id;
}

/** Wrapping keys by key file, KDF parameters, salt and password (see OpenOptions.keyCache). */
export type KeyCache = Map<string, Buffer>;

function cacheKey(id: string, k: KeyFile, password: string): string {
  return createHash('sha256').update(JSON.stringify([id, k.kdf, k.salt, k.N, k.r, k.p])).update('\0').update(password, 'utf8').digest('hex');
}

/**
 * Find the key file that `password` opens and return the master key. Tries every key file (the
 * password does not say which one it belongs to). Throws WRONG_PASSWORD when none opens. With `cache`,
 * a wrapping key derived before for the same key file and password is taken from it.
 */
export async function unlock(backend: Backend, password: string, cache?: KeyCache): Promise<{ master: MasterKey; keyId: string }> {
  const ids: string[] = [];
  for await (const f of backend.list('key')) ids.push(f.name);
  if (ids.length === 0) {
    // Called once the config is found: this is a repository whose keys are gone.
    throw new LifeboatError('INTEGRITY', `the repository at ${backend.location} has no key file left: no password can open it`, {
      hint: 'a key file wraps the master key with a password; put keys/ back from a copy of the repository (an older copy opens with the password in use then)',
    });
  }
  ids.sort();
  const damaged: string[] = [];
  /** Key files of a version or KDF this build does not know (written by a newer Lifeboat). */
  const newer: string[] = [];
  for (const id of ids) {
    let payload: Buffer;
    try {
      // A damaged or foreign key file must not stop the other passwords from working.
      const k = parseKeyFile(id, await backend.load({ type: 'key', name: id }, { maxSize: defaults.documentMaxBytes }));
      const ck = cache ? cacheKey(id, k, password) : undefined;
      const cached = ck !== undefined ? cache?.get(ck) : undefined;
      const wrapping = cached ?? (await deriveWrappingKey(k.kdf, password, Buffer.from(k.salt, 'base64'), k));
      try {
        payload = open({ encryption: wrapping }, Buffer.from(k.data, 'base64'), `key ${id}`, aad('key'));
      } catch (err) {
        if (err instanceof IntegrityError) continue; // not this key's password
        throw err;
      }
      // Kept once it has opened its key (a wrong password's derivation is not); one per repository, so few.
      if (cache && ck !== undefined && !cached) {
        if (cache.size >= 64) cache.clear();
        cache.set(ck, wrapping);
      }
    } catch (err) {
      if (err instanceof LifeboatError && err.code === 'REPO_VERSION') {
        newer.push(id);
        continue;
      }
      if (err instanceof LifeboatError && err.code !== 'NOT_FOUND' && err.code !== 'ABORTED') {
        damaged.push(id);
        continue;
      }
      throw err;
    }
    const m = JSON.parse(payload.toString('utf8')) as { encryption: string; mac: string };
    return { master: { encryption: Buffer.from(m.encryption, 'base64'), mac: Buffer.from(m.mac, 'base64') }, keyId: id };
  }
  const skipped = [
    ...(damaged.length ? [`${damaged.length} damaged key file(s) skipped: ${damaged.map((d) => d.slice(0, 8)).join(', ')}`] : []),
    ...(newer.length ? [`${newer.length} key file(s) in a format this version does not know skipped: ${newer.map((d) => d.slice(0, 8)).join(', ')}`] : []),
  ];
  throw new LifeboatError('WRONG_PASSWORD', `wrong password or no key found for ${backend.location}${skipped.length ? ` (${skipped.join('; ')})` : ''}`, {
    hint: newer.length
      ? 'a newer Lifeboat may open the key files this one does not know; else check --password-file, LIFEBOAT_PASSWORD or LIFEBOAT_PASSWORD_COMMAND'
      : 'check --password-file, LIFEBOAT_PASSWORD or LIFEBOAT_PASSWORD_COMMAND; `lifeboat key list` shows the keys of a repository you can open',
  });
}

export async function listKeys(backend: Backend, currentId?: string): Promise<KeyInfo[]> {
  const out: KeyInfo[] = [];
  for await (const f of backend.list('key')) {
    const k = parseKeyFile(f.name, await backend.load({ type: 'key', name: f.name }, { maxSize: defaults.documentMaxBytes }));
    out.push({ id: f.name, created: k.created, hostname: k.hostname, username: k.username, current: f.name === currentId });
  }
  return out.sort((a, b) => compareStrings(a.created, b.created) || compareStrings(a.id, b.id));
}

export async function removeKey(backend: Backend, id: string, currentId: string): Promise<void> {
  if (id === currentId) {
    throw new LifeboatError('USAGE', 'refusing to remove the key in use', {
      hint: 'open the repository with another password to remove this key, or use `lifeboat key passwd`',
    });
  }
  await backend.remove({ type: 'key', name: id });
}
