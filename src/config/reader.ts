/**
 * Reading YAML values with their positions. The section readers work on the plain values of the document
 * (`doc.toJS()`) and name each value by its path (`groups.web.members[0].files`); when a value is wrong the
 * `Reader` finds the node at that path and throws a CONFIG error that starts `FILE:LINE:COL: field: `.
 *
 * Secrets (`password`, `secret`, `token`) are read here too, from a file, an environment variable or inline,
 * and no message ever carries their value: a wrong one is described, never quoted.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, normalize, resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from 'yaml';
import { LifeboatError } from '../core/index.ts';
import { durationForm, formatDurationMs, parseDurationMs } from './duration.ts';
import type { Secret } from './types.ts';

export type Path = Array<string | number>;

/** Something allowed but unwise (a password written inline, a secret file others can read). */
export interface ConfigWarning {
  /** `FILE:LINE:COL: field: text`, as errors are. */
  message: string;
  field: string;
  line?: number;
  column?: number;
}

export interface ReaderOptions {
  /** Where `*_env` secrets and the data folder's default come from. */
  env: NodeJS.ProcessEnv;
  /** The folder relative paths are taken from: the configuration file's. */
  base: string;
  /** Effective uid (root gets system folders as defaults). */
  uid: number | undefined;
  /** The home folder, for ~/.local/share. */
  home: string;
}

/** `groups.web.members[0]`. */
export function fieldName(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Edit distance, for "did you mean". The keys compared are short, so the plain table is enough. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The known word closest to `word` (edit distance at most 2, or one a prefix of the other), if any. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const kl = k.toLowerCase();
    const d = distance(w, kl);
    const close = d <= 2 || (w.length >= 3 && (kl.startsWith(w) || w.startsWith(kl)));
    if (close && (best === undefined || d < best.d)) best = { k, d };
  }
  return best?.k;
}

/** `; did you mean "retention"? (known: a, b)` or ` (known: a, b)`. */
export function knownList(word: string, known: readonly string[]): string {
  const s = suggest(word, known);
  return `${s !== undefined ? `; did you mean "${s}"?` : ''} (known: ${known.length ? known.join(', ') : 'none'})`;
}

/** A file's text without its one final line break, as `--password-file` reads it. */
function chompOne(s: string): string {
  return s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s;
}

export class Reader {
  readonly warnings: ConfigWarning[] = [];
  readonly #index = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
    readonly opts: ReaderOptions,
  ) {}

  /**
   * Where a path is in the text: its value, or with `at: 'key'` its key (an unknown field is pointed at by
   * its name). A path that does not exist (a missing field) is placed at its nearest ancestor's key.
   */
  position(path: Path, at: 'key' | 'value' = 'value'): { line: number; col: number } | undefined {
    // The nodes along the path, as far as it exists: [value, key] per step, the document's contents first.
    const steps: Array<{ value: unknown; key: Node | undefined }> = [{ value: this.doc.contents ?? undefined, key: undefined }];
    for (const p of path) {
      const parent = steps[steps.length - 1]!.value;
      if (isMap(parent)) {
        const pair = this.#pairs(parent).get(String(p));
        if (pair === undefined) break;
        steps.push({ value: pair.value, key: (pair.key as Node | null) ?? undefined });
      } else if (isSeq(parent) && typeof p === 'number' && p < parent.items.length) {
        steps.push({ value: parent.items[p], key: (parent.items[p] as Node | undefined) ?? undefined });
      } else break;
    }
    for (let n = steps.length - 1; n >= 0; n--) {
      const { value, key } = steps[n]!;
      const exact = n === path.length;
      const node = (exact && at === 'value') || !key ? (value ?? key) : key;
      const offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0];
      if (offset !== undefined) return this.lines.linePos(offset);
    }
    return undefined;
  }

  /** A mapping's pairs by key, made once per mapping: a warning per group must not search all groups each time. */
  #pairs(map: YAMLMap): Map<string, Pair> {
    let index = this.#index.get(map);
    if (index === undefined) {
      index = new Map();
      for (const pair of map.items as Pair[]) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (!index.has(k)) index.set(k, pair);
      }
      this.#index.set(map, index);
    }
    return index;
  }

  #where(path: Path, at: 'key' | 'value'): { text: string; context: Record<string, unknown> } {
    const pos = this.position(path, at);
    const field = fieldName(path);
    return {
      text: `${this.file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${field || '(top level)'}`,
      context: { file: this.file, ...(pos ? { line: pos.line, column: pos.col } : {}), field },
    };
  }

  fail(path: Path, problem: string, opts: { at?: 'key' | 'value'; hint?: string; cause?: unknown } = {}): never {
    const w = this.#where(path, opts.at ?? 'value');
    throw new LifeboatError('CONFIG', `${w.text}: ${problem}`, {
      context: w.context,
      ...(opts.hint !== undefined ? { hint: opts.hint } : {}),
      ...(opts.cause !== undefined ? { cause: opts.cause } : {}),
    });
  }

  warn(path: Path, problem: string): void {
    const w = this.#where(path, 'value');
    const ctx = w.context as { field: string; line?: number; column?: number };
    this.warnings.push({ message: `${w.text}: ${problem}`, field: ctx.field, ...(ctx.line !== undefined ? { line: ctx.line, column: ctx.column! } : {}) });
  }

  /** A mapping whose keys are all in `allowed`; an unknown key is named with the nearest known one. */
  map(v: unknown, path: Path, allowed: readonly string[]): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, v === undefined || v === null ? 'missing: expected a mapping (key: value lines)' : 'expected a mapping (key: value lines)');
    for (const k of Object.keys(v as object)) if (!allowed.includes(k)) this.fail([...path, k], `unknown field${knownList(k, allowed)}`, { at: 'key' });
    return v as Record<string, unknown>;
  }

  /** A mapping of names to entries (`repositories`, `groups`): every key must match `pattern`. */
  named(v: unknown, path: Path, what: string): Record<string, unknown> {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(path, `expected a mapping of ${what} names to their settings`);
    for (const k of Object.keys(v as object)) this.name(k, [...path, k], what, 'key');
    return v as Record<string, unknown>;
  }

  /** A name of a repository, group or token: `^[a-z0-9][a-z0-9_-]*$`, case-insensitive. */
  name(v: unknown, path: Path, what: string, at: 'key' | 'value' = 'value'): string {
    if (typeof v !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/i.test(v)) {
      this.fail(path, `${typeof v === 'string' ? `"${v}" is not a valid ${what} name` : `expected a ${what} name`}: expected letters, digits, '_' and '-', starting with a letter or digit`, { at });
    }
    return v;
  }

  str<O extends boolean = false>(v: unknown, path: Path, opts: { optional?: O; pattern?: RegExp; what?: string } = {}): O extends true ? string | undefined : string {
    if (v === undefined && opts.optional) return undefined as O extends true ? string | undefined : string;
    if (typeof v !== 'string' || v === '') this.fail(path, v === undefined ? `missing: expected ${opts.what ?? 'a string'}` : `expected ${opts.what ?? 'a string'}`);
    if (opts.pattern && !opts.pattern.test(v)) this.fail(path, `"${v}" is not ${opts.what ?? 'valid'}`);
    return v;
  }

  int(v: unknown, path: Path, def: number | undefined, min: number, max: number): number {
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(path, `${v === undefined ? 'missing: ' : ''}expected a whole number from ${min} to ${max}`);
    return v;
  }

  bool(v: unknown, path: Path, def: boolean): boolean {
    if (v === undefined) return def;
    if (typeof v !== 'boolean') this.fail(path, 'expected true or false');
    return v;
  }

  list<T>(v: unknown, path: Path, each: (x: unknown, p: Path) => T, opts: { optional?: boolean; nonEmpty?: boolean } = {}): T[] {
    if (v === undefined && opts.optional) return [];
    if (!Array.isArray(v)) this.fail(path, v === undefined ? 'missing: expected a list' : 'expected a list ([a, b] or lines starting with "- ")');
    if (opts.nonEmpty && v.length === 0) this.fail(path, 'expected at least one entry');
    return v.map((x, i) => each(x, [...path, i]));
  }

  endpoint(v: unknown, path: Path, defPort: number): { host: string; port: number } {
    const s = this.str(v, path, { what: 'an address with an optional port (127.0.0.1:5353, [::1]:53)' });
    const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(s);
    if (!m) this.fail(path, `"${s}" is not an address with an optional port`);
    const port = m[3] ? Number(m[3]) : defPort;
    if (port > 65535) this.fail(path, `port ${port} is above 65535`);
    return { host: (m[1] ?? m[2])!, port };
  }

  /** A duration (`30s`, `5m`, `1h30m`, `7d`) in milliseconds; a plain number is refused (which unit?). */
  duration(v: unknown, path: Path, def: number, opts?: { min?: number; max?: number }): number;
  duration(v: unknown, path: Path, def: undefined, opts?: { min?: number; max?: number }): number | undefined;
  duration(v: unknown, path: Path, def: number | undefined, opts: { min?: number; max?: number } = {}): number | undefined {
    if (v === undefined) return def;
    if (typeof v === 'number') this.fail(path, `${v} has no unit: expected ${durationForm}`);
    if (typeof v !== 'string') this.fail(path, `expected ${durationForm}`);
    const ms = parseDurationMs(v);
    if (ms === undefined) this.fail(path, `"${v}" is not a duration: expected ${durationForm}`);
    if (opts.min !== undefined && ms < opts.min) this.fail(path, `expected at least ${formatDurationMs(opts.min)}`);
    if (opts.max !== undefined && ms > opts.max) this.fail(path, `expected at most ${formatDurationMs(opts.max)}`);
    return ms;
  }

  /** A path; a relative one is taken from the configuration file's folder. */
  path(v: unknown, path: Path, what = 'a path'): string {
    const s = this.str(v, path, { what });
    if (s.includes('\0')) this.fail(path, 'a path cannot hold a NUL byte');
    return resolve(this.opts.base, s);
  }

  /** A path that must be written absolute (a relative one would depend on where the daemon runs). */
  absolutePath(v: unknown, path: Path, what = 'an absolute path'): string {
    const s = this.str(v, path, { what });
    if (!isAbsolute(s)) this.fail(path, `"${s}" is relative: expected ${what} (starting with /)`);
    if (s.includes('\0')) this.fail(path, 'a path cannot hold a NUL byte');
    const n = normalize(s);
    return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
  }

  /**
   * A secret from `<key>_file`, `<key>_env` or `<key>` itself (inline, only where `inline` allows it, and
   * warned about). Exactly one of them; `required: false` returns undefined when none is given. A file's
   * text loses its one final line break (as `--password-file`); `trim` trims all surrounding space instead.
   */
  secret(m: Record<string, unknown>, path: Path, key: string, opts: { required: boolean; inline: boolean; trim?: boolean; what: string }): Secret | undefined {
    const forms = [`${key}_file`, `${key}_env`, ...(opts.inline ? [key] : [])];
    const given = forms.filter((f) => m[f] !== undefined);
    const choices = forms.length === 3 ? `${forms[0]}, ${forms[1]} or ${forms[2]}` : `${forms[0]} or ${forms[1]}`;
    if (given.length > 1) this.fail([...path, given[1]!], `${given.join(' and ')} are both given: expected one of ${choices}`, { at: 'key' });
    const form = given[0];
    if (form === undefined) {
      if (opts.required) this.fail([...path, key], `missing: expected the ${opts.what} as ${choices}`);
      return undefined;
    }
    const fp = [...path, form];
    const finish = (text: string): string => (opts.trim ? text.trim() : chompOne(text));
    if (form.endsWith('_file')) {
      const file = this.path(m[form], fp, `a file holding the ${opts.what}`);
      let text: string;
      try {
        const st = statSync(file);
        if (!st.isFile()) this.fail(fp, `${file} is not a file`);
        if (st.mode & 0o004) this.warn(fp, `${file} can be read by every user (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): chmod o-r ${file}`);
        text = readFileSync(file, 'utf8');
      } catch (err) {
        if (err instanceof LifeboatError) throw err;
        this.fail(fp, `cannot read ${file}: ${(err as Error).message}`, { cause: err });
      }
      const value = finish(text);
      if (value === '') this.fail(fp, `${file} is empty: expected the ${opts.what}`);
      return { from: `file ${file}`, value };
    }
    if (form.endsWith('_env')) {
      const name = this.str(m[form], fp, { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, what: 'an environment variable name' });
      const raw = this.opts.env[name];
      if (raw === undefined) this.fail(fp, `environment variable ${name} is not set: expected it to hold the ${opts.what}`);
      const value = finish(raw);
      if (value === '') this.fail(fp, `environment variable ${name} is empty: expected it to hold the ${opts.what}`);
      return { from: `env ${name}`, value };
    }
    // Inline: the value is never quoted back, not even when it has the wrong type.
    const v = m[form];
    if (typeof v !== 'string' || v === '') this.fail(fp, `expected the ${opts.what} as a string (quote it)`);
    this.warn(fp, `the ${opts.what} is written in the configuration: whoever reads this file has it; prefer ${forms[0]} or ${forms[1]}`);
    return { from: 'inline', value: finish(v) };
  }
}
