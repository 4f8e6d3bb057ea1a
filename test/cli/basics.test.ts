/** The CLI without a repository to open: help pages, usage errors, missing repository, missing password. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../helpers/repo.ts';
import { lifeboat, show } from './run-cli.ts';

const commands = [
  ['init'],
  ['backup'],
  ['snapshots'],
  ['restore'],
  ['ls'],
  ['find'],
  ['dump'],
  ['diff'],
  ['forget'],
  ['prune'],
  ['check'],
  ['stats'],
  ['unlock'],
  ['key'],
  ['key', 'list'],
  ['key', 'add'],
  ['key', 'remove'],
  ['key', 'passwd'],
  ['wal'],
  ['wal', 'push'],
  ['wal', 'fetch'],
  ['wal', 'list'],
  ['dns'],
  ['dns', 'serve'],
  ['dns', 'publish'],
  ['dns', 'status'],
  ['dns', 'ttl'],
];

void test('lifeboat --help lists every command and documents the exit codes', async () => {
  const r = await lifeboat(['--help']);
  assert.equal(r.code, 0, show(r));
  for (const c of commands) if (c.length === 1) assert.match(r.stdout, new RegExp(`^  ${c[0]}\\b`, 'm'), `${c[0]} missing from --help`);
  assert.match(r.stdout, /EXIT STATUS/);
  for (const code of ['0', '1', '2', '3', '10', '11', '12', '13', '14']) assert.match(r.stdout, new RegExp(`^  ${code} +\\S`, 'm'), `exit code ${code} not documented`);
});

void test('every command has a help page with EXAMPLES and EXIT STATUS', async () => {
  const runs = await Promise.all(commands.map((c) => lifeboat([...c, '--help'])));
  runs.forEach((r, i) => {
    const name = commands[i]!.join(' ');
    assert.equal(r.code, 0, `${name}: ${show(r)}`);
    assert.match(r.stdout, new RegExp(`^Usage: lifeboat ${name}`, 'm'), name);
    assert.match(r.stdout, /^EXAMPLES$/m, `${name} --help has no EXAMPLES`);
    assert.match(r.stdout, /^EXIT STATUS$/m, `${name} --help has no EXIT STATUS`);
  });
});

void test('usage errors exit 2 with a message and a hint naming the help page', async () => {
  const [unknownCmd, unknownOpt, missingArg, missingTarget, conflicting] = await Promise.all([
    lifeboat(['frobnicate']),
    lifeboat(['backup', '--no-such-option', '/tmp']),
    lifeboat(['dump', 'latest']),
    lifeboat(['--json', 'restore', 'latest']),
    lifeboat(['backup', '--force', '--parent', 'abcd', '/tmp']),
  ]);
  assert.equal(unknownCmd.code, 2, show(unknownCmd));
  assert.match(unknownCmd.stderr, /^lifeboat: unknown command 'frobnicate'/m);
  assert.match(unknownCmd.stderr, /^hint: .*lifeboat --help/m);
  assert.equal(unknownOpt.code, 2, show(unknownOpt));
  assert.match(unknownOpt.stderr, /unknown option '--no-such-option'/);
  assert.match(unknownOpt.stderr, /^hint: see `lifeboat backup --help`/m);
  assert.equal(missingArg.code, 2, show(missingArg));
  assert.match(missingArg.stderr, /missing required argument 'file'/);
  assert.equal(conflicting.code, 2, show(conflicting));
  // --json: the error is a JSON document on stdout, nothing on stderr.
  assert.equal(missingTarget.code, 2, show(missingTarget));
  assert.equal(missingTarget.stderr, '');
  const doc = JSON.parse(missingTarget.stdout) as { error: { code: string; message: string; hint: string } };
  assert.equal(doc.error.code, 'USAGE');
  assert.match(doc.error.message, /--target/);
  assert.match(doc.error.hint, /lifeboat restore --help/);
});

void test('a missing repository exits 10 with a hint, before any password is asked for', async (t) => {
  const dir = await tempDir(t, 'lb-cli-');
  const [human, json, noRepo] = await Promise.all([
    lifeboat(['-r', join(dir, 'nowhere'), 'snapshots'], { env: { LIFEBOAT_PASSWORD: undefined } }),
    lifeboat(['snapshots', '--json'], { env: { LIFEBOAT_REPOSITORY: join(dir, 'nowhere') } }),
    lifeboat(['snapshots']),
  ]);
  assert.equal(human.code, 10, show(human));
  assert.match(human.stderr, /^lifeboat: no repository at .*nowhere/m);
  assert.match(human.stderr, /^hint: .*lifeboat init/m);
  assert.equal(json.code, 10, show(json));
  const doc = JSON.parse(json.stdout) as { error: { code: string; hint: string }; exit_code: number };
  assert.equal(doc.error.code, 'REPO_NOT_FOUND');
  assert.equal(doc.exit_code, 10);
  assert.match(doc.error.hint, /lifeboat init/);
  // No repository given at all is a usage error.
  assert.equal(noRepo.code, 2, show(noRepo));
  assert.match(noRepo.stderr, /no repository given/);
  assert.match(noRepo.stderr, /LIFEBOAT_REPOSITORY/);
});

void test('no password and no terminal: a clear error, never a hang', async (t) => {
  const dir = await tempDir(t, 'lb-cli-');
  const repo = join(dir, 'repo');
  const [noPw, badCommand] = await Promise.all([
    lifeboat(['-r', repo, 'init'], { env: { LIFEBOAT_PASSWORD: undefined } }),
    lifeboat(['-r', repo, 'init'], { env: { LIFEBOAT_PASSWORD: undefined, LIFEBOAT_PASSWORD_COMMAND: 'echo s3cret-word >&2; exit 7' } }),
  ]);
  assert.equal(noPw.code, 1, show(noPw));
  assert.match(noPw.stderr, /^lifeboat: no password given/m);
  assert.match(noPw.stderr, /^hint: .*--password-file/m);
  assert.equal(badCommand.code, 1, show(badCommand));
  assert.match(badCommand.stderr, /LIFEBOAT_PASSWORD_COMMAND exited with status 7/);
  // The command line (which may hold a secret) is not repeated in the message.
  assert.doesNotMatch(badCommand.stderr.replace('s3cret-word\n', ''), /s3cret-word/);
});

void test('--version prints the version', async () => {
  const r = await lifeboat(['--version']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^lifeboat \d+\.\d+\.\d+/);
});
