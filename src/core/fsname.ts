/**
 * File names are bytes on Linux; JavaScript strings are UTF-16. A name that is valid UTF-8 is simply its
 * string. Every byte that is not part of valid UTF-8 is kept as a lone surrogate, U+DC80 + byte (what
 * Python calls surrogateescape), so every byte string has exactly one string and back, and a name that
 * was `caf\xe9` (Latin-1) is backed up and restored as those four bytes, not as a replacement character.
 *
 * Such a string must reach the kernel as the original bytes: `fsPath` gives a Buffer for it (Node's fs
 * and the native calls take either), and the string itself for every other name, so the common case
 * costs one scan. In trees, an escaped name is stored as a readable `name` plus `name_raw`, the exact
 * bytes in base64 (repository format §10).
 */
import { readdirSync } from 'node:fs';

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** A lone surrogate: what only an escaped byte (or a damaged name) holds. */
const LONE = /\p{Cs}/u;
const LONE_ALL = /\p{Cs}/gu;

/** Whether `s` holds escaped bytes (or any lone surrogate). */
export function isEscaped(s: string): boolean {
  return LONE.test(s);
}

/** A name's bytes as its string: UTF-8, with each byte that is not part of valid UTF-8 escaped. */
export function decodeName(b: Uint8Array): string {
  try {
    return utf8.decode(b);
  } catch {
    /* not valid UTF-8: decoded by hand below */
  }
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    let n = 0;
    let cp = 0;
    let min = 0;
    if (c >= 0xc2 && c <= 0xdf) [n, cp, min] = [1, c & 0x1f, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, cp, min] = [2, c & 0x0f, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, cp, min] = [3, c & 0x07, 0x10000];
    let ok = n > 0 && i + n < b.length;
    for (let k = 1; ok && k <= n; k++) {
      const x = b[i + k]!;
      if ((x & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (x & 0x3f);
    }
    if (ok && cp >= min && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) {
      out += String.fromCodePoint(cp);
      i += n + 1;
    } else {
      out += String.fromCharCode(0xdc00 + c);
      i++;
    }
  }
  return out;
}

/** The bytes a name string stands for (see decodeName). A lone surrogate that is no escape becomes U+FFFD. */
export function encodeName(s: string): Buffer {
  if (!LONE.test(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff && i + 1 < s.length) {
      const v = s.charCodeAt(i + 1);
      if (v >= 0xdc00 && v <= 0xdfff) {
        run += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    if (u >= 0xdc80 && u <= 0xdcff) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.of(u - 0xdc00));
      continue;
    }
    run += s[i]!;
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** `s` as the kernel must see it: the string itself, or the exact bytes when it holds escapes. */
export function fsPath(s: string): string | Buffer {
  return LONE.test(s) ? encodeName(s) : s;
}

/** A name with escapes is the one its bytes decode to (no two strings for one name). */
export function isCanonicalName(s: string): boolean {
  return !LONE.test(s) || decodeName(encodeName(s)) === s;
}

/** The name as text for people: escaped bytes shown as U+FFFD. */
export function displayName(s: string): string {
  return LONE.test(s) ? s.replace(LONE_ALL, '\ufffd') : s;
}

/**
 * A folder's entries, names escaped where they are not valid UTF-8. Node decodes names lossily (invalid
 * bytes become U+FFFD, and the name no longer exists on disk): only a folder where one shows up is listed
 * again as bytes.
 */
export function readdirNames(path: string): string[] {
  const p = fsPath(path);
  const names = readdirSync(p);
  if (!names.some((n) => n.includes('\ufffd'))) return names;
  return readdirSync(p, { encoding: 'buffer' }).map(decodeName);
}
