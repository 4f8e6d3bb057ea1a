/**
 * Key derivation: the key that wraps the master key, derived from a password by scrypt.
 *
 * Two forms (docs/repository-format.md §5). `scrypt` is RFC 7914 scrypt with parameters N, r, p; its p
 * blocks are independent, but OpenSSL computes them one after another (N=2^15, r=8, p=3: 0.43 s here).
 * `scrypt-lanes`, what new key files use, computes the p blocks as p separate scrypt calls with p = 1 and
 * a lane number in the salt, and hashes the lane outputs together: the same work and memory per lane, so
 * the same cost to a guesser, but the lanes run side by side on libuv's thread pool, two at a time
 * (`defaults.kdfLanesAtOnce`): 0.31 s instead of 0.43 s with 64 MiB instead of 32 MiB for that time, on
 * every command that opens a repository (measured 2026-11-30).
 *
 * This module is light on purpose (node:crypto and core only): the CLI imports it before the rest of the
 * program loads to start deriving while modules load (`prederive`, see src/cli/prewarm.ts).
 */
import { createHash, scrypt as scryptCb } from 'node:crypto';
import { promisify } from 'node:util';
import { defaults, IntegrityError, LifeboatError } from '../core/index.ts';

const scrypt = promisify(scryptCb) as (
  password: string | Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export type KdfName = 'scrypt' | 'scrypt-lanes';

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
  kdf: KdfName;
  N: number;
  r: number;
  p: number;
  salt: string;
  data: string;
}

export const defaultKdf: KdfParams = { N: defaults.scryptN, r: defaults.scryptR, p: defaults.scryptP };

/** The KDF new key files are written with. */
export const currentKdf: KdfName = 'scrypt-lanes';

const LANES_DOMAIN = Buffer.from('lifeboat scrypt-lanes v1\0');

/** Parse and bound-check a key file; throws when it is unusable (the caller skips it). */
export function parseKeyFile(id: string, bytes: Buffer): KeyFile {
  const sum = createHash('sha256').update(bytes).digest('hex');
  if (sum !== id) throw new IntegrityError(`key file ${id}: contents do not match its name`);
  let k: KeyFile;
  try {
    k = JSON.parse(bytes.toString('utf8')) as KeyFile;
  } catch (cause) {
    throw new IntegrityError(`key file ${id}: not valid JSON`, { cause });
  }
  if (typeof k !== 'object' || k === null || typeof k.salt !== 'string' || typeof k.data !== 'string') {
    throw new IntegrityError(`key file ${id}: not a key file`);
  }
  // Another version or KDF: written by a newer Lifeboat (or a foreign tool), not damaged.
  if (k.version !== 1 || (k.kdf !== 'scrypt' && k.kdf !== 'scrypt-lanes')) {
    throw new LifeboatError('REPO_VERSION', `key file ${id}: unsupported key format (version ${String(k.version)}, kdf ${String(k.kdf)})`);
  }
  // Bounds keep a planted key file from demanding unbounded memory or time (N=2^22, r=32 is 16 GiB).
  const pow2 = Number.isInteger(k.N) && k.N >= 1024 && k.N <= 1 << 22 && (k.N & (k.N - 1)) === 0;
  if (!pow2 || !Number.isInteger(k.r) || k.r < 1 || k.r > 32 || !Number.isInteger(k.p) || k.p < 1 || k.p > 16 || k.N * k.r > (1 << 22) * 8) {
    throw new IntegrityError(`key file ${id}: scrypt parameters out of range (N=${k.N}, r=${k.r}, p=${k.p})`);
  }
  return k;
}

function run(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return scrypt(password, salt, 32, { N, r, p, maxmem: 256 * N * r + 64 * 1024 * 1024 });
}

/** W for `scrypt-lanes`: lane i is scrypt(pw, salt ‖ byte(i), N, r, 1); W = SHA-256(domain ‖ lane 0 ‖ … ‖ lane p−1). */
async function lanes(password: string, salt: Buffer, k: KdfParams): Promise<Buffer> {
  const out: Buffer[] = new Array<Buffer>(k.p);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < k.p) {
      const i = next++;
      out[i] = await run(password, Buffer.concat([salt, Buffer.of(i)]), k.N, k.r, 1);
    }
  };
  await Promise.all(Array.from({ length: Math.min(k.p, defaults.kdfLanesAtOnce) }, lane));
  const h = createHash('sha256').update(LANES_DOMAIN);
  for (const l of out) h.update(l);
  return h.digest();
}

function compute(kdf: KdfName, password: string, salt: Buffer, k: KdfParams): Promise<Buffer> {
  const pw = password.normalize('NFC');
  return kdf === 'scrypt' ? run(pw, salt, k.N, k.r, k.p) : lanes(pw, salt, k);
}

/** Derivations started ahead of time (`prederive`), by KDF, parameters, salt and a digest of the password. */
const early = new Map<string, Promise<Buffer>>();

function earlyKey(kdf: KdfName, password: string, salt: Buffer, p: KdfParams): string {
  return `${kdf}:${p.N}:${p.r}:${p.p}:${salt.toString('base64')}:${createHash('sha256').update(password.normalize('NFC')).digest('base64')}`;
}

/** The 32-byte key that wraps the master key in a key file of this KDF, salt and parameters. */
export function deriveWrappingKey(kdf: KdfName, password: string, salt: Buffer, p: KdfParams): Promise<Buffer> {
  const k = earlyKey(kdf, password, salt, p);
  const started = early.get(k);
  if (started) {
    early.delete(k);
    return started;
  }
  return compute(kdf, password, salt, p);
}

/**
 * Start deriving the wrapping keys of these key files now, so that `unlock` finds them done. scrypt runs on
 * libuv's thread pool: started before the program's modules load, it overlaps their start-up instead of
 * following it. Invalid key files are ignored here; unlock reports them.
 */
export function prederive(password: string, keyFiles: Array<{ id: string; bytes: Buffer }>): void {
  for (const f of keyFiles.slice(0, 4)) {
    try {
      const k = parseKeyFile(f.id, f.bytes);
      const salt = Buffer.from(k.salt, 'base64');
      const key = earlyKey(k.kdf, password, salt, k);
      if (early.has(key)) continue;
      const pending = compute(k.kdf, password, salt, k);
      pending.catch(() => undefined); // if nobody asks, nobody hears of it
      early.set(key, pending);
    } catch {
      /* unlock will say what is wrong with it */
    }
  }
}
