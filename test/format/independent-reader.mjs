// An independent reader of Lifeboat repository format v1, written from docs/repository-format.md alone.
//
// It deliberately imports nothing from src/: only node:crypto, node:fs, node:path and zstd-napi (for zstd
// frames). If the library and this file disagree, either the library or the specification is wrong.
import { createCipheriv, createDecipheriv, createHash, createHmac, scryptSync } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decompress } from 'zstd-napi';

/** §4: the kinds of sealed object, each with its own additional authenticated data. */
const KINDS = new Set(['config', 'key', 'snapshot', 'index', 'lock', 'pack-header', 'blob']);

// ---- §1/§3: files --------------------------------------------------------------------------------------

const sha256hex = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Regular files of a folder whose names are valid (§3: names starting with '.' are temp files). */
function listFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isFile() && /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/.test(e.name))
    .map((e) => e.name)
    .sort();
}

/** A content-addressed file: its name must be the SHA-256 of its bytes (§3.1). */
function readAddressed(path, name) {
  const bytes = readFileSync(path);
  if (sha256hex(bytes) !== name) throw new Error(`${path}: contents do not match the name`);
  return bytes;
}

/** Bytes [offset, offset+length) of a file; a short file is an error (truncation). */
function readRange(path, offset, length) {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (offset + length > size) throw new Error(`${path}: truncated (want ${offset}+${length}, have ${size})`);
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) throw new Error(`${path}: unexpected end of file`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

// ---- §4: sealing ---------------------------------------------------------------------------------------

/** The additional authenticated data of a kind of object: ASCII `lifeboat:<kind>`. */
export function aad(kind) {
  if (!KINDS.has(kind)) throw new Error(`unknown object kind ${kind}`);
  return Buffer.from(`lifeboat:${kind}`, 'ascii');
}

/**
 * Open `nonce(24) ‖ ciphertext ‖ tag(16)` sealed under the 32-byte key `k` with additional authenticated
 * data `ad` (a Buffer; empty when omitted). Throws on any change, and when `ad` is not what it was sealed with.
 */
export function unseal(k, sealed, ad = Buffer.alloc(0)) {
  if (sealed.length < 40) throw new Error('sealed object too short');
  const nonce = sealed.subarray(0, 24);
  const subkey = createHmac('sha256', k).update(nonce.subarray(0, 16)).digest();
  const iv = Buffer.concat([nonce.subarray(16, 24), Buffer.alloc(4)]);
  const d = createDecipheriv('aes-256-gcm', subkey, iv);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  d.setAAD(ad);
  const body = d.update(sealed.subarray(24, sealed.length - 16));
  d.final(); // throws if the tag does not verify
  return body;
}

/** Seal with a caller-chosen nonce (for test vectors only; real writers use a random nonce). */
export function sealWithNonce(k, nonce, plaintext, ad = Buffer.alloc(0)) {
  const subkey = createHmac('sha256', k).update(nonce.subarray(0, 16)).digest();
  const iv = Buffer.concat([nonce.subarray(16, 24), Buffer.alloc(4)]);
  const c = createCipheriv('aes-256-gcm', subkey, iv);
  c.setAAD(ad);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]);
}

/** A sealed JSON document of the given kind (§3.1, §4). */
/** §3: a sealed document's body: as is, or a zstd frame of it (starts with 28 B5 2F FD). */
function openBody(k, sealed, kind) {
  const plain = unseal(k, sealed, aad(kind));
  if (plain.length >= 4 && plain.readUInt32LE(0) === 0xfd2fb528) {
    const declared = zstdContentSize(plain);
    if (declared === undefined || declared > 1 << 30) throw new Error(`${kind}: document frame size not acceptable`);
    return decompress(plain);
  }
  return plain;
}

export function openJson(k, sealed, kind) {
  return JSON.parse(openBody(k, sealed, kind).toString('utf8'));
}

/** §9: an index file's packs, from the binary form (§9.1) or the JSON form, as the JSON form's object. */
export function openIndex(k, sealed) {
  const body = openBody(k, sealed, 'index');
  if (body.subarray(0, 4).toString('latin1') !== 'LBIX') return JSON.parse(body.toString('utf8'));
  if (body.length < 16 || body[4] !== 2 || body[5] !== 0 || body[6] !== 0 || body[7] !== 0) throw new Error('index: unknown binary encoding');
  const P = body.readUInt32LE(8);
  const B = body.readUInt32LE(12);
  if (body.length !== 16 + 36 * P + 48 * B) throw new Error(`index: ${body.length} bytes for ${P} packs and ${B} blobs`);
  const idsAt = 16 + 36 * P;
  const numsAt = idsAt + 32 * B;
  const packs = [];
  let i = 0;
  for (let p = 0; p < P; p++) {
    const count = body.readUInt32LE(16 + 32 * P + 4 * p);
    const blobs = [];
    for (const end = i + count; i < end; i++) {
      if (i >= B) throw new Error('index: pack blob counts exceed the blob count');
      const n = (j) => body.readUInt32LE(numsAt + 16 * i + 4 * j);
      const flags = n(3);
      if (flags > 255) throw new Error(`index: flags ${flags}`);
      blobs.push({
        id: body.toString('hex', idsAt + 32 * i, idsAt + 32 * i + 32),
        type: flags & 1 ? 'tree' : 'data',
        offset: n(0),
        length: n(1),
        raw_length: n(2),
        compression: flags >> 1,
      });
    }
    packs.push({ id: body.toString('hex', 16 + 32 * p, 48 + 32 * p), blobs });
  }
  if (i !== B) throw new Error('index: pack blob counts do not add up to the blob count');
  return { packs };
}

// ---- §5: keys ------------------------------------------------------------------------------------------

/** §5: the scrypt parameters a key file may ask for. */
export function scryptParamsOk({ N, r, p }) {
  const int = (x) => typeof x === 'number' && Number.isInteger(x);
  return (
    int(N) && N >= 1024 && N <= 2 ** 22 && (N & (N - 1)) === 0 &&
    int(r) && r >= 1 && r <= 32 &&
    int(p) && p >= 1 && p <= 16 &&
    N * r <= 2 ** 25
  );
}

/** Key files that cannot be used (damaged, foreign, out of range) are skipped and returned in `skipped`. */
function unlock(root, password) {
  const dir = join(root, 'keys');
  const names = listFiles(dir);
  if (names.length === 0) throw new Error(`${root}: no key files`);
  const skipped = [];
  for (const name of names) {
    let k;
    try {
      k = JSON.parse(readAddressed(join(dir, name), name).toString('utf8'));
    } catch {
      skipped.push(name); // a damaged key file must not stop the others (§5)
      continue;
    }
    const usable =
      k !== null && typeof k === 'object' && k.version === 1 && (k.kdf === 'scrypt' || k.kdf === 'scrypt-lanes') &&
      typeof k.salt === 'string' && typeof k.data === 'string' && scryptParamsOk(k);
    if (!usable) {
      skipped.push(name);
      continue;
    }
    const { N, r, p } = k;
    const pw = Buffer.from(password.normalize('NFC'), 'utf8');
    const salt = Buffer.from(k.salt, 'base64');
    const maxmem = 128 * N * r * 2 + 32 * 1024 * 1024;
    let wrapping;
    if (k.kdf === 'scrypt') {
      wrapping = scryptSync(pw, salt, 32, { N, r, p, maxmem });
    } else {
      // scrypt-lanes: p lanes of scrypt with p = 1, the lane number appended to the salt, hashed together.
      const h = createHash('sha256').update('lifeboat scrypt-lanes v1\0', 'latin1');
      for (let i = 0; i < p; i++) h.update(scryptSync(pw, Buffer.concat([salt, Buffer.from([i])]), 32, { N, r, p: 1, maxmem }));
      wrapping = h.digest();
    }
    let payload;
    try {
      payload = unseal(wrapping, Buffer.from(k.data, 'base64'), aad('key'));
    } catch {
      continue; // the tag did not verify: not this password
    }
    const m = JSON.parse(payload.toString('utf8'));
    const encryption = Buffer.from(m.encryption, 'base64');
    const mac = Buffer.from(m.mac, 'base64');
    if (encryption.length !== 32 || mac.length !== 32) throw new Error(`key ${name}: bad master key`);
    return { encryption, mac, keyId: name, skipped };
  }
  throw new Error(`wrong password${skipped.length ? ` (${skipped.length} unusable key file(s) skipped)` : ''}`);
}

// ---- §7: blobs -----------------------------------------------------------------------------------------

/** §7.1: data ids are the HMAC of the plaintext; tree ids of `"tree" 0x00 ‖ plaintext`. */
export function blobId(mac, plaintext, type = 'data') {
  const h = createHmac('sha256', mac);
  if (type === 'tree') h.update(Buffer.from('tree\0', 'ascii'));
  else if (type !== 'data') throw new Error(`unknown blob type ${type}`);
  return h.update(plaintext).digest('hex');
}

/**
 * The Frame_Content_Size of a zstd frame (RFC 8878 §3.1.1.1), or undefined if the frame does not declare
 * it. Lets the reader refuse a frame before decompressing it when it would not give `raw_length` bytes.
 */
export function zstdContentSize(frame) {
  if (frame.length < 5 || frame.readUInt32LE(0) !== 0xfd2fb528) throw new Error('not a zstd frame');
  const fhd = frame[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const didSize = [0, 1, 2, 4][fhd & 3];
  const fcsSize = [single ? 1 : 0, 2, 4, 8][fcsFlag];
  if (fcsSize === 0) return undefined;
  const at = 5 + (single ? 0 : 1) + didSize;
  if (frame.length < at + fcsSize) throw new Error('zstd frame header truncated');
  if (fcsSize === 1) return frame[at];
  if (fcsSize === 2) return frame.readUInt16LE(at) + 256;
  if (fcsSize === 4) return frame.readUInt32LE(at);
  return Number(frame.readBigUInt64LE(at));
}

function packPath(root, pack) {
  return join(root, 'data', pack.slice(0, 2), pack);
}

/** §7.3: read, open, decompress (bounded), check the raw length and the id (of the entry's type). */
function decodeBlob(root, master, id, loc) {
  const sealed = readRange(packPath(root, loc.pack), loc.offset, loc.length);
  const stored = unseal(master.encryption, sealed, aad('blob'));
  let plain;
  if (loc.compression === 0) plain = stored;
  else if (loc.compression === 1) {
    // Bound the output (§7.3): the library's writer always records the content size in the frame header.
    const declared = zstdContentSize(stored);
    if (declared === undefined) throw new Error(`blob ${id}: zstd frame without a content size (not supported by this reader)`);
    if (declared !== loc.rawLength) throw new Error(`blob ${id}: zstd frame declares ${declared} bytes, index says ${loc.rawLength}`);
    plain = Buffer.from(decompress(stored));
  } else throw new Error(`blob ${id}: unknown compression ${loc.compression}`);
  if (plain.length !== loc.rawLength) throw new Error(`blob ${id}: ${plain.length} bytes, index says ${loc.rawLength}`);
  if (blobId(master.mac, plain, loc.type) !== id) throw new Error(`blob ${id}: contents do not match the id`);
  return plain;
}

// ---- §8: pack headers (not needed when the index is there; used to cross-check) ------------------------

export function parsePackHeader(encryption, pack) {
  const hlen = pack.readUInt32LE(pack.length - 4);
  if (hlen + 4 > pack.length) throw new Error('pack header length exceeds the pack');
  const header = unseal(encryption, pack.subarray(pack.length - 4 - hlen, pack.length - 4), aad('pack-header'));
  if (header.length % 48 !== 0) throw new Error('pack header has a partial entry');
  const dataEnd = pack.length - 4 - hlen;
  const out = [];
  for (let o = 0; o < header.length; o += 48) {
    if (header[o] > 1) throw new Error(`pack header: unknown blob type ${header[o]}`);
    const e = {
      type: header[o] === 1 ? 'tree' : 'data',
      compression: header[o + 1],
      offset: header.readUInt32LE(o + 4),
      length: header.readUInt32LE(o + 8),
      rawLength: header.readUInt32LE(o + 12),
      id: header.subarray(o + 16, o + 48).toString('hex'),
    };
    if (e.offset + e.length > dataEnd) throw new Error(`blob ${e.id} lies outside the pack`);
    out.push(e);
  }
  return out;
}

// ---- §13: the chunker ----------------------------------------------------------------------------------

/** The 256 gear values (as unsigned 32-bit numbers) for a 32-byte seed. */
export function gearTable(seed) {
  const stream = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(1024));
  const gear = new Uint32Array(256);
  for (let i = 0; i < 256; i++) gear[i] = stream.readUInt32LE(4 * i);
  return gear;
}

const topBits = (k) => (k >= 32 ? 0xffffffff : (0xffffffff << (32 - k)) >>> 0);

/** End offsets of the chunks `split` produces for `data` (the last one is data.length). */
export function cutPoints(seed, params, data) {
  const { min, avg, max } = params;
  const bits = Math.log2(avg);
  if (!Number.isInteger(bits) || bits < 8 || bits > 28 || min < 64 || min >= avg || avg >= max) throw new Error('bad chunker params');
  const gear = gearTable(seed);
  const maskS = topBits(bits + 2);
  const maskL = topBits(bits - 2);
  const cut = (start, end) => {
    let n = end - start;
    if (n <= min) return n;
    if (n > max) n = max;
    const normal = Math.min(n, avg);
    let h = 0;
    for (let j = start + min - 32; j < start + min; j++) h = (h * 2 + gear[data[j]]) % 0x100000000;
    let i = start + min;
    for (; i < start + normal; i++) {
      h = (h * 2 + gear[data[i]]) % 0x100000000;
      if ((h & maskS) === 0) return i - start + 1;
    }
    for (; i < start + n; i++) {
      h = (h * 2 + gear[data[i]]) % 0x100000000;
      if ((h & maskL) === 0) return i - start + 1;
    }
    return n;
  };
  const ends = [];
  for (let pos = 0; pos < data.length; ) {
    pos += cut(pos, data.length);
    ends.push(pos);
  }
  return ends;
}

// ---- §10: trees ----------------------------------------------------------------------------------------

const safeName = (n) => typeof n === 'string' && n !== '' && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');

// ---- §11: snapshots ------------------------------------------------------------------------------------

const isStringArray = (a) => Array.isArray(a) && a.every((x) => typeof x === 'string');

/** The checks of §11 a snapshot document must pass before it is used. */
export function validSnapshot(s) {
  return (
    s !== null &&
    typeof s === 'object' &&
    typeof s.time === 'string' &&
    !Number.isNaN(Date.parse(s.time)) &&
    typeof s.tree === 'string' &&
    /^[0-9a-f]{64}$/.test(s.tree) &&
    isStringArray(s.paths) &&
    typeof s.hostname === 'string' &&
    (s.tags === undefined || isStringArray(s.tags))
  );
}

// ---- the reader ----------------------------------------------------------------------------------------

/**
 * Open the repository at `dir` with `password` and read everything a restore needs. Returns the master
 * key, config, index, snapshots (sorted, latest last), and for the latest snapshot every node by absolute
 * path and every regular file's content.
 */
export async function openRepository(dir, password) {
  const master = unlock(dir, password);

  const config = openJson(master.encryption, readFileSync(join(dir, 'config')), 'config');
  if (config.version !== 1) throw new Error(`unsupported repository version ${config.version}`);

  /**
   * id → every known location (§9: duplicates are valid copies), in index-file name order, so the first
   * is the one the library uses. `supersedes` is ignored.
   */
  const index = new Map();
  for (const name of listFiles(join(dir, 'index'))) {
    const j = openIndex(master.encryption, readAddressed(join(dir, 'index', name), name));
    for (const p of j.packs) {
      for (const b of p.blobs) {
        const loc = { pack: p.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.raw_length, compression: b.compression };
        const locs = index.get(b.id);
        if (locs) locs.push(loc);
        else index.set(b.id, [loc]);
      }
    }
  }

  /** A blob used as `type` (§9: an entry of another type is not a copy of it). */
  const loadBlob = (id, type) => {
    const locs = (index.get(id) ?? []).filter((l) => l.type === type);
    if (locs.length === 0) throw new Error(`${type} blob ${id} is not in the index`);
    let lastErr;
    for (const loc of locs) {
      try {
        return decodeBlob(dir, master, id, loc);
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  };

  const snapshots = listFiles(join(dir, 'snapshots')).map((id) => {
    const s = openJson(master.encryption, readAddressed(join(dir, 'snapshots', id), id), 'snapshot');
    if (!validSnapshot(s)) throw new Error(`snapshot ${id}: not a valid snapshot document`);
    return { ...s, id };
  });
  snapshots.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const latest = snapshots.at(-1);

  const nodes = new Map();
  const files = new Map();
  const walk = (treeId, prefix) => {
    const tree = JSON.parse(loadBlob(treeId, 'tree').toString('utf8'));
    if (!tree || !Array.isArray(tree.nodes)) throw new Error(`tree ${treeId}: no node list`);
    for (const node of tree.nodes) {
      if (!safeName(node.name)) continue;
      const path = `${prefix}/${node.name}`;
      nodes.set(path, node);
      if (node.type === 'file') {
        const content = Buffer.concat((node.content ?? []).map((id) => loadBlob(id, 'data')));
        if (node.size !== undefined && content.length !== node.size) {
          throw new Error(`${path}: ${content.length} bytes, node says ${node.size}`);
        }
        files.set(path, content);
      } else if (node.type === 'dir' && node.subtree) {
        walk(node.subtree, path);
      }
    }
  };
  if (latest) walk(latest.tree, '');

  // §12: locks (not content-addressed; a lock may vanish between listing and reading).
  const locks = [];
  for (const id of listFiles(join(dir, 'locks'))) {
    let bytes;
    try {
      bytes = readFileSync(join(dir, 'locks', id));
    } catch (err) {
      if (err.code === 'ENOENT') continue;
      throw err;
    }
    locks.push({ ...openJson(master.encryption, bytes, 'lock'), id });
  }

  return { master, config, index, snapshots, latest, nodes, files, locks, loadBlob };
}

/** Absolute path → content of every regular file in the latest snapshot. */
export async function readRepository(dir, password) {
  return (await openRepository(dir, password)).files;
}
