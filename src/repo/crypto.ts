/**
 * Keys and authenticated encryption.
 *
 * A repository has one random master key: `encryption` (AES-256-GCM) and `mac` (HMAC-SHA-256, which names
 * chunks by their plaintext without revealing it). Every stored object (blob, pack header, index, snapshot,
 * lock, config) is sealed as
 *
 *     nonce (24 random bytes) ‖ AES-256-GCM ciphertext ‖ tag (16 bytes)
 *
 * with a per-object subkey `HMAC-SHA-256(encryption, nonce[0..16])` and GCM IV `nonce[16..24] ‖ 0x00000000`.
 * Deriving a fresh subkey from 128 random bits per object removes GCM's 2^32-messages-per-key limit on random
 * nonces: nonces never need coordinating between hosts writing to one repository. Any change to a sealed
 * object fails the tag check and raises IntegrityError; tampered bytes are never returned.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { IntegrityError } from '../core/index.ts';

export const NONCE_SIZE = 24;
export const TAG_SIZE = 16;
export const SEAL_OVERHEAD = NONCE_SIZE + TAG_SIZE;

export interface MasterKey {
  /** 32 bytes, AES-256-GCM subkey derivation. */
  encryption: Buffer;
  /** 32 bytes, HMAC-SHA-256 key for chunk ids. */
  mac: Buffer;
}

export function newMasterKey(): MasterKey {
  return { encryption: randomBytes(32), mac: randomBytes(32) };
}

function subkey(encryption: Buffer, nonce: Uint8Array): Buffer {
  return createHmac('sha256', encryption).update(nonce.subarray(0, 16)).digest();
}

function iv(nonce: Uint8Array): Buffer {
  const out = Buffer.alloc(12);
  out.set(nonce.subarray(16, 24), 0);
  return out;
}

/**
 * Encrypt and authenticate `plaintext`. `aad` (optional) is authenticated but not stored. With `out`, the
 * sealed object is written there at `offset` (SEAL_OVERHEAD + plaintext.length bytes must be free) and a
 * view of it is returned: backup workers seal a batch of blobs into one buffer the main thread hands back.
 */
export function seal(key: Pick<MasterKey, 'encryption'>, plaintext: Uint8Array, aad?: Uint8Array, out?: Buffer, offset = 0): Buffer {
  const len = NONCE_SIZE + plaintext.length + TAG_SIZE;
  if (!out) {
    out = Buffer.allocUnsafe(len);
    offset = 0;
  } else if (out.length - offset < len) {
    throw new RangeError(`seal: ${out.length - offset} bytes free, ${len} needed`);
  }
  const nonce = randomBytes(NONCE_SIZE);
  const cipher = createCipheriv('aes-256-gcm', subkey(key.encryption, nonce), iv(nonce));
  if (aad) cipher.setAAD(aad);
  nonce.copy(out, offset);
  let n = offset + NONCE_SIZE;
  n += cipher.update(plaintext).copy(out, n);
  n += cipher.final().copy(out, n);
  cipher.getAuthTag().copy(out, n);
  return offset === 0 && len === out.length ? out : out.subarray(offset, offset + len);
}

/** Decrypt and verify. Throws IntegrityError (with `what` in the message) if anything was changed. */
export function open(key: Pick<MasterKey, 'encryption'>, sealed: Uint8Array, what: string, aad?: Uint8Array): Buffer {
  if (sealed.length < SEAL_OVERHEAD) {
    throw new IntegrityError(`${what}: too short to be a sealed object (${sealed.length} bytes)`);
  }
  const nonce = sealed.subarray(0, NONCE_SIZE);
  const tag = sealed.subarray(sealed.length - TAG_SIZE);
  const decipher = createDecipheriv('aes-256-gcm', subkey(key.encryption, nonce), iv(nonce));
  decipher.setAuthTag(tag);
  if (aad) decipher.setAAD(aad);
  const body = decipher.update(sealed.subarray(NONCE_SIZE, sealed.length - TAG_SIZE));
  try {
    decipher.final();
  } catch (cause) {
    throw new IntegrityError(`${what}: authentication failed (the data was changed or damaged)`, { cause });
  }
  return body;
}

const TREE_DOMAIN = Buffer.from('tree\0');

/**
 * The id of a blob: HMAC-SHA-256 under the repository's mac key of its plaintext, for data chunks, or of
 * `"tree" 0x00 ‖ plaintext` for trees. The domain separation means an id determines its type: a file whose
 * bytes happen to equal a folder's tree can never be mistaken for (or deduplicated with) that tree.
 */
export function blobId(key: Pick<MasterKey, 'mac'>, data: Uint8Array, type: 'data' | 'tree' = 'data'): Buffer {
  const h = createHmac('sha256', key.mac);
  if (type === 'tree') h.update(TREE_DOMAIN);
  return h.update(data).digest();
}

/**
 * Additional authenticated data binding a sealed object to its kind, so an object of one kind cannot be
 * planted as another (an index file copied into snapshots/, say).
 */
export function aad(kind: 'config' | 'key' | 'snapshot' | 'index' | 'lock' | 'pack-header' | 'blob' | 'wal', name?: string): Buffer {
  // Named objects (archived WAL) also bind their name, so one cannot be renamed into another's place.
  return Buffer.from(name === undefined ? `lifeboat:${kind}` : `lifeboat:${kind}:${name}`);
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
