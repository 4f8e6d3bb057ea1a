/** Helpers for the configuration tests: read YAML text as a configuration file, and check errors' positions. */
import assert from 'node:assert/strict';
import { parseConfig, type Config, type ConfigWarning, type ParseOptions } from '../../src/config/index.ts';
import { isLifeboatError, type LifeboatError } from '../../src/core/index.ts';

/** The time schedules are checked from in these tests: Thursday 2026-01-15 10:07:30 UTC. */
export const NOW = new Date('2026-01-15T10:07:30Z');
export const FILE = '/etc/lifeboat/lifeboat.yaml';

/** YAML written indented inside a test: the first line break and the common indentation are removed. */
export function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((a, s, i) => a + s + (i < values.length ? String(values[i]) : ''), '').replace(/^\n/, '');
  const indent = Math.min(...text.split('\n').filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return text
    .split('\n')
    .map((l) => l.slice(indent))
    .join('\n');
}

export type ReadOptions = ParseOptions & { file?: string };

export function read(text: string, opts: ReadOptions = {}): { cfg: Config; warnings: ConfigWarning[] } {
  const warnings: ConfigWarning[] = [];
  const cfg = parseConfig(text, opts.file ?? FILE, { env: {}, uid: 1000, home: '/home/ann', now: NOW, onWarning: (w) => warnings.push(w), ...opts });
  return { cfg, warnings };
}

export function readError(text: string, opts: ReadOptions = {}): LifeboatError {
  try {
    read(text, opts);
  } catch (err) {
    if (isLifeboatError(err)) return err;
    throw err;
  }
  assert.fail('expected a configuration error');
}

/** The error of `text` is a CONFIG error at `line:col` on `field`, and its problem matches `problem`. */
export function assertError(text: string, at: { line: number; col: number; field: string }, problem: RegExp, opts: ReadOptions = {}): LifeboatError {
  const e = readError(text, opts);
  const file = opts.file ?? FILE;
  assert.equal(e.code, 'CONFIG', e.message);
  const prefix = `${file}:${at.line}:${at.col}: ${at.field}: `;
  assert.ok(e.message.startsWith(prefix), `expected "${prefix}...", got: ${e.message}`);
  assert.match(e.message.slice(prefix.length), problem);
  assert.deepEqual(e.context, { file, line: at.line, column: at.col, field: at.field });
  return e;
}
