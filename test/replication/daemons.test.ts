/**
 * Two real daemons as two sites (on loopback): the primary replicates a files group to the hot site, which
 * keeps its journal and a hot replica folder. The replica follows the source through changes, additions
 * and deletions; both sites report the measured recovery point; the journal opens to its own token only,
 * and that token opens nothing else.
 */
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { compareTrees } from '../helpers/tree.ts';
import { waitFor } from '../helpers/wait.ts';
import { lifeboat } from '../cli/run-cli.ts';
import { call, makeSite, showAnswer, startDaemon } from '../daemon/helpers.ts';

void test('two sites: a files group replicated to the hot site; its replica folder follows the source; the recovery point is measured at both ends', { timeout: 180_000 }, async (t) => {
  const linkToken = randomBytes(24).toString('hex');
  const hot = await makeSite(t);
  const tokenFile = join(hot.dir, 'primary.token');
  writeFileSync(tokenFile, `${linkToken}\n`, { mode: 0o600 });
  const replica = join(hot.dir, 'replica');
  const journal = join(hot.dir, 'journal');
  hot.opts.extra = [
    'journals:',
    '  web:',
    '    from: primary',
    `    token_file: ${JSON.stringify(tokenFile)}`,
    // The journal shares the primary repository's key: its password (the test repositories share one).
    `    password_file: ${JSON.stringify(hot.passwordFile)}`,
    `    path: ${JSON.stringify(journal)}`,
    `    replica: ${JSON.stringify(replica)}`,
  ].join('\n');
  const h = await startDaemon(hot);

  const primary = await makeSite(t);
  const sendFile = join(primary.dir, 'hot.token');
  writeFileSync(sendFile, `${linkToken}\n`, { mode: 0o600 });
  primary.opts.extra = ['sites:', '  hot:', `    url: "https://127.0.0.1:${h.port}"`, `    fingerprint: "${h.fingerprint}"`, `    token_file: ${JSON.stringify(sendFile)}`].join('\n');
  primary.opts.groupLines = ['replicate: { to: hot, every: 1s }'];
  const p = await startDaemon(primary);

  const mirror = join(replica, primary.src);
  const same = (): boolean => {
    try {
      return compareTrees(primary.src, mirror, { owner: false }).length === 0;
    } catch {
      return false;
    }
  };
  await waitFor('the replica to equal the source', same, 60_000, 100);
  // Changes, additions, deletions: the replica follows.
  writeFileSync(join(primary.src, 'a.txt'), 'alpha, changed\n');
  mkdirSync(join(primary.src, 'new'));
  writeFileSync(join(primary.src, 'new', 'c.bin'), randomBytes(300_000));
  rmSync(join(primary.src, 'sub'), { recursive: true });
  await waitFor('the replica to follow the changes', same, 60_000, 100);

  const g = await call(p, 'GET', '/v1/groups/web', { token: primary.tokens.viewer });
  assert.equal(g.status, 200, showAnswer(g));
  const rep = g.json.replication as { to: string; age_seconds: number; checkpoints: number };
  t.diagnostic(`primary: ${JSON.stringify(rep)}`);
  assert.equal(rep.to, 'hot');
  assert.ok(rep.checkpoints >= 2 && rep.age_seconds < 10, JSON.stringify(rep));
  const j = await call(h, 'GET', '/v1/journals', { token: hot.tokens.viewer });
  assert.equal(j.status, 200, showAnswer(j));
  const kept = (j.json.journals as Array<Record<string, unknown>>)[0]!;
  t.diagnostic(`hot site: ${JSON.stringify(kept)}`);
  assert.equal(kept['group'], 'web');
  assert.ok(Number(kept['applied_age_seconds']) < 10, JSON.stringify(kept));
  const metrics = await call(p, 'GET', '/metrics', { token: primary.tokens.viewer });
  assert.match(metrics.text, /^lifeboat_group_replication_age_seconds\{group="web"\} [\d.e+-]+$/m);

  // The journal opens to its token only, and that token opens nothing else.
  assert.equal((await call(h, 'GET', '/v1/journals/web/snapshot/', { token: hot.tokens.admin })).status, 401, 'an admin token of the API is not the journal token');
  assert.equal((await call(h, 'GET', '/v1/journals/other/snapshot/', { token: linkToken })).status, 401, 'another journal');
  assert.equal((await call(h, 'GET', '/v1/status', { token: linkToken })).status, 401, 'the rest of the API');
  assert.equal((await call(h, 'GET', '/v1/journals/web/snapshot/', { token: linkToken })).status, 200);
  // Junk paths with the right token: refused, never an internal error, nothing outside the journal read.
  for (const junk of ['/v1/journals/web/pack/%E0%A4%A', '/v1/journals/web/..%2F..%2Fapi.key', '/v1/journals/web/keys/..', '/v1/journals/web/config/..%2Fconfig', '/v1/journals/web/data/x/y']) {
    const a = await call(h, 'GET', junk, { token: linkToken });
    assert.ok(a.status >= 400 && a.status < 500, `${junk}: ${showAnswer(a)}`);
  }

  // The journal is a backup history too: sub/b.txt, deleted at the primary, comes back from an early checkpoint.
  const listed = await lifeboat(['--json', 'checkpoints', 'web', '-c', hot.config]);
  assert.equal(listed.code, 0, listed.stderr);
  const cps = (JSON.parse(listed.stdout) as { checkpoints: Array<{ id: string; time: string }> }).checkpoints;
  t.diagnostic(`${cps.length} checkpoints in the journal`);
  assert.ok(cps.length >= 2);
  const back = join(hot.dir, 'back');
  const r = await lifeboat(['-r', journal, '--password-file', hot.passwordFile, 'restore', cps[0]!.id, '--include', join(primary.src, 'sub', 'b.txt'), '--target', back]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(back, primary.src, 'sub', 'b.txt'), 'utf8'), 'bravo '.repeat(1000));
  assert.equal((await lifeboat(['checkpoints', 'nope', '-c', hot.config])).code, 1);

  await p.stop();
  await h.stop();
});
