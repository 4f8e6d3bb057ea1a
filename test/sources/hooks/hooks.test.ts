/** Hooks around a backup: the post hook always runs, a failed pre hook cancels the backup, both are recorded. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LifeboatError } from '../../../src/core/index.ts';
import { loadSnapshots } from '../../../src/repo/index.ts';
import { backupFiles } from '../../../src/sources/files/index.ts';
import { postHookFailed, withHooks } from '../../../src/sources/hooks/index.ts';
import { newRepo, tempDir } from '../../helpers/repo.ts';

test('hooks: pre and post run around the backup and are recorded in the snapshot', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'data');
  mkdirSync(data);
  writeFileSync(join(data, 'a'), 'a');
  const log = join(dir, 'log');
  const repo = await newRepo(dir);
  const { result, ran } = await withHooks(
    { pre: `echo "pre $LIFEBOAT_HOOK" >> ${log}`, post: `echo "post $LIFEBOAT_BACKUP_STATUS" >> ${log}` },
    (finalize) => backupFiles(repo, { paths: [data], finalize }),
  );
  assert.equal(readFileSync(log, 'utf8'), 'pre pre\npost ok\n');
  assert.equal(ran.pre?.exit_code, 0);
  assert.equal(postHookFailed(ran), false);
  const [snap] = await loadSnapshots(repo);
  assert.equal(snap!.id, result.id);
  assert.equal(snap!.hooks?.pre?.ran, true);
  assert.equal(snap!.hooks?.post?.exit_code, 0);
});

test('hooks: a failed pre hook cancels the backup and the post hook still runs', async (t) => {
  const dir = await tempDir(t);
  const log = join(dir, 'log');
  const repo = await newRepo(dir);
  let called = false;
  await assert.rejects(
    withHooks({ pre: 'echo cannot freeze >&2; exit 4', post: `echo "post $LIFEBOAT_BACKUP_STATUS" >> ${log}` }, async () => {
      called = true;
      throw new Error('not reached');
    }),
    (err: unknown) => err instanceof LifeboatError && err.code === 'HOOK' && /cannot freeze/.test(err.message),
  );
  assert.equal(called, false);
  assert.equal(readFileSync(log, 'utf8'), 'post failed\n');
  assert.equal((await loadSnapshots(repo)).length, 0);
});

test('hooks: the post hook runs when the backup fails, and a hung hook is killed at its timeout', async (t) => {
  const dir = await tempDir(t);
  const log = join(dir, 'log');
  const repo = await newRepo(dir);
  await assert.rejects(
    withHooks({ pre: 'true', post: `echo "post $LIFEBOAT_BACKUP_STATUS" >> ${log}` }, (finalize) => backupFiles(repo, { paths: [join(dir, 'missing')], finalize })),
    /missing/,
  );
  assert.equal(readFileSync(log, 'utf8'), 'post failed\n');
  assert.equal((await loadSnapshots(repo)).length, 0);

  const started = Date.now();
  await assert.rejects(
    withHooks({ pre: `sleep 30; touch ${join(dir, 'late')}`, timeoutMs: 300 }, async () => 'x'),
    (err: unknown) => err instanceof LifeboatError && err.code === 'HOOK' && /timed out/.test(err.message),
  );
  assert.ok(Date.now() - started < 20_000);
  assert.equal(existsSync(join(dir, 'late')), false);

  // A failed post hook after a saved snapshot is recorded, not thrown.
  mkdirSync(join(dir, 'data'));
  const { ran } = await withHooks({ post: 'exit 9' }, (finalize) => backupFiles(repo, { paths: [join(dir, 'data')], finalize }));
  assert.equal(postHookFailed(ran), true);
  const [snap] = await loadSnapshots(repo);
  assert.equal(snap!.hooks?.post?.exit_code, 9);
});

test('hooks: never see the repository password; done when their shell exits; a timeout ends all they started, at the limit', async (t) => {
  const dir = await tempDir(t);
  const log = join(dir, 'env');
  const env = { ...process.env, LIFEBOAT_PASSWORD: 'sekret', LIFEBOAT_PASSWORD_COMMAND: 'echo sekret', LIFEBOAT_NEW_PASSWORD: 'x', KEEP_ME: 'yes' };
  // The environment a hook gets, read from /proc as any process of the same user could.
  const seen = await withHooks({ pre: `cat /proc/$$/environ | tr '\\0' '\\n' > ${log}`, env }, async () => 'done');
  assert.equal(seen.ran.pre?.exit_code, 0);
  const vars = readFileSync(log, 'utf8');
  assert.doesNotMatch(vars, /sekret|LIFEBOAT_PASSWORD|LIFEBOAT_NEW_PASSWORD/);
  assert.match(vars, /^KEEP_ME=yes$/m);
  // A hook that starts something in the background and exits is done at once; what it started lives on.
  const marker = join(dir, 'restarted');
  const bg = await withHooks({ pre: `(sleep 2; touch ${marker}) > /dev/null 2>&1 & echo started`, timeoutMs: 10_000 }, async () => 'done');
  assert.equal(bg.ran.pre?.timed_out, false);
  assert.ok(bg.ran.pre!.duration_ms < 1500, `took ${bg.ran.pre!.duration_ms} ms`);
  const until = Date.now() + 30_000;
  while (!existsSync(marker) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.ok(existsSync(marker), 'the background child was not killed');
  // One that leaves its process group (setsid) is still ended at the timeout, not when it chooses.
  const escaped = join(dir, 'escaped');
  const started = Date.now();
  await assert.rejects(withHooks({ pre: `setsid sh -c 'sleep 5; touch ${escaped}'`, timeoutMs: 1000 }, async () => 'never'), { code: 'HOOK' });
  assert.ok(Date.now() - started < 4000, `returned after ${Date.now() - started} ms`);
  await new Promise((r) => setTimeout(r, 6000));
  assert.equal(existsSync(escaped), false, 'the escaped child was killed at the timeout');
});
