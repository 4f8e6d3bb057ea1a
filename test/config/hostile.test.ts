/**
 * lifeboat.yaml replaced by something hostile (the daemon reads it again on SIGHUP, on its main thread):
 * a FIFO, a device, a huge file, deep nesting, many groups. Each must be refused or read at once.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig, maxConfigBytes } from '../../src/config/index.ts';
import { isLifeboatError } from '../../src/core/index.ts';
import { tempDir } from '../helpers/repo.ts';
import { assertError, readError } from './helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** loadConfig(file)'s error, run in a child process: a read that blocks ends there, by the timeout, not in this runner. */
function loadInChild(file: string): { message: string; ms: number } {
  const script = `import { loadConfig } from './src/config/index.ts';
try { loadConfig(${JSON.stringify(file)}); console.log(JSON.stringify({ message: 'loaded' })); }
catch (e) { console.log(JSON.stringify({ message: e.code + ': ' + e.message + ' / ' + e.hint })); }`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.error, undefined, `loadConfig did not return: ${String(r.error)}`);
  assert.equal(r.status, 0, r.stderr);
  return { message: (JSON.parse(r.stdout) as { message: string }).message, ms: Date.now() - t0 };
}

test('hostile file: a FIFO is refused without waiting for a writer (and so is a symlink to one)', async (t) => {
  const dir = await tempDir(t);
  const fifo = join(dir, 'lifeboat.yaml');
  execFileSync('mkfifo', [fifo]);
  const link = join(dir, 'link.yaml');
  symlinkSync(fifo, link);
  for (const file of [fifo, link]) {
    const { message } = loadInChild(file);
    assert.match(message, /^CONFIG: cannot read the configuration .*: it is a FIFO \(named pipe\), not a regular file \/ .*--config FILE/);
  }
});

test('hostile file: a symlink to /dev/zero, a folder and a missing file are refused', async (t) => {
  const dir = await tempDir(t);
  const zero = join(dir, 'zero.yaml');
  symlinkSync('/dev/zero', zero);
  const refused = (file: string, why: RegExp): void =>
    assert.throws(() => loadConfig(file), (e: unknown) => isLifeboatError(e) && e.code === 'CONFIG' && why.test(e.message) && /--config FILE/.test(e.hint ?? ''), file);
  refused(zero, /zero\.yaml: it is a character device, not a regular file$/);
  mkdirSync(join(dir, 'folder.yaml'));
  refused(join(dir, 'folder.yaml'), /: it is a folder, not a regular file$/);
  refused(join(dir, 'none.yaml'), /none\.yaml: ENOENT/);
});

test('hostile file: a file over the cap is refused with its size and the cap', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'lifeboat.yaml');
  writeFileSync(file, `# ${'x'.repeat(maxConfigBytes - 2)}`);
  assert.equal(loadConfig(file, { env: {} }).groups.length, 0, 'a file of exactly the cap is read');
  writeFileSync(file, `# ${'x'.repeat(maxConfigBytes - 1)}`);
  assert.throws(
    () => loadConfig(file),
    (e: unknown) => isLifeboatError(e) && e.code === 'CONFIG' && e.message.endsWith(`it is ${maxConfigBytes + 1} bytes, more than the limit of ${maxConfigBytes} bytes (1 MiB)`),
  );
});

test('hostile file: deep nesting is refused at once, with its position', () => {
  for (const unit of ['[', '{', '- ', '? ', '{a: ']) {
    const text = unit.repeat(Math.floor(maxConfigBytes / unit.length));
    const t0 = Date.now();
    const e = readError(text);
    assert.match(e.message, /^\/etc\/lifeboat\/lifeboat\.yaml:1:\d+: not valid YAML: nested more than 100 deep$/, unit);
    assert.ok(Date.now() - t0 < 5000, `${unit}: ${Date.now() - t0} ms`);
  }
  // Nesting a configuration uses is read.
  assert.doesNotThrow(() => readError('groups: [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]\n'));
});

test('hostile file: a repeated key is still refused with the line of the second', () => {
  const at = (text: string): string => readError(text).message;
  assert.equal(at('site: a\nsite: b\n'), '/etc/lifeboat/lifeboat.yaml:2:1: not valid YAML: Map keys must be unique ("site" is given twice)');
  const groups = 'groups:\n  web:\n    members: [{ files: [/a] }]\n  db: { members: [{ files: [/b] }] }\n  web: { members: [{ files: [/c] }] }\n';
  assert.match(at(groups), /^\/etc\/lifeboat\/lifeboat\.yaml:5:3: not valid YAML: Map keys must be unique \("web" is given twice\)$/);
  // In a flow mapping, deeper down; and the first of a repeated key and a later syntax error is reported.
  assert.match(at('groups:\n  web:\n    members: [{ files: { paths: [/a], paths: [/b] } }]\n'), /:3:39: not valid YAML: Map keys must be unique \("paths"/);
  assert.match(at('site: a\nsite: b\nx: [\n'), /:2:1: not valid YAML: Map keys must be unique/);
  assert.match(at('x: [\nsite: a\nsite: b\n'), /:2:1: not valid YAML: Flow sequence/);
  // The same key in different mappings is fine.
  const text = 'repositories: { main: { path: /r, password_env: PW } }\ngroups:\n  a: { members: [{ files: [/a] }] }\n  b: { members: [{ files: [/a] }], a: 1 }\n';
  assertError(text, { line: 4, col: 36, field: 'groups.b.a' }, /^unknown field/, { env: { PW: 'x' } });
});

test('hostile file: a configuration of many groups (~1 MiB) is read', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'lifeboat.yaml');
  const lines = ['repositories: { main: { path: /r, password_env: PW } }', 'groups:'];
  // rpo without a schedule: a warning per group, each placed by line in the file.
  for (let i = 0; i < 20_000; i++) lines.push(`  g${i}: { members: [ { files: [/x] } ], rpo: 1h }`);
  writeFileSync(file, lines.join('\n') + '\n');
  const warnings: string[] = [];
  const cfg = loadConfig(file, { env: { PW: 'x' }, onWarning: (w) => warnings.push(w.message) });
  assert.equal(cfg.groups.length, 20_000);
  assert.equal(cfg.groups[19_999]!.name, 'g19999');
  assert.equal(warnings.length, 20_000);
  assert.ok(warnings[19_999]!.startsWith(`${file}:20002:`), warnings[19_999]);
});
