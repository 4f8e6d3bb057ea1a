/**
 * The daemon's HTTP API against the real `lifeboat daemon` process over real HTTPS: who may call what
 * (every route the OpenAPI document lists), TLS and certificate pinning, bad input, the slowdown of
 * clients that keep failing, and the CLI commands that talk to the daemon.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { fingerprintOf } from '../../src/daemon/index.ts';
import { lifeboat, show } from '../cli/run-cli.ts';
import { auditLog, backupNow, call, freshClientAddress, jobList, makeSite, ROLES, root, showAnswer, startDaemon, waitJob, writeConfig, type Role } from './helpers.ts';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** Routes the API must keep: the matrix below covers whatever openapi.json lists, and at least these. */
const REQUIRED = [
  'GET /v1/status',
  'GET /v1/groups',
  'GET /v1/groups/{name}',
  'GET /v1/groups/{name}/snapshots',
  'GET /v1/jobs',
  'GET /v1/jobs/{id}',
  'POST /v1/groups/{name}/backup',
  'POST /v1/groups/{name}/check',
  'POST /v1/restore',
  'GET /v1/audit',
  'GET /metrics',
  'GET /v1/health',
  'GET /v1/openapi.json',
];

interface Operation {
  method: 'GET' | 'POST';
  /** As the document writes it: /v1/jobs/{id}. */
  template: string;
  access: 'public' | Role;
}

void test('every route of openapi.json: no or an unknown token 401, too small a role 403, enough passes; refusals change nothing and are audited', async (t) => {
  const site = await makeSite(t);
  const d = await startDaemon(site);

  const doc = await call(d, 'GET', '/v1/openapi.json');
  assert.equal(doc.status, 200, showAnswer(doc));
  const ops: Operation[] = [];
  for (const [template, methods] of Object.entries(doc.json.paths as Record<string, Record<string, { 'x-role'?: string }>>)) {
    for (const [method, op] of Object.entries(methods)) {
      assert.ok(method === 'get' || method === 'post', `${method} ${template}: a method this test does not know how to call`);
      assert.ok(op['x-role'] === 'public' || (ROLES as readonly string[]).includes(op['x-role'] ?? ''), `${method} ${template}: x-role ${op['x-role']}`);
      ops.push({ method: method.toUpperCase() as 'GET' | 'POST', template, access: op['x-role'] as Operation['access'] });
    }
  }
  const listed = ops.map((o) => `${o.method} ${o.template}`);
  for (const r of REQUIRED) assert.ok(listed.includes(r), `${r} is missing from openapi.json (listed: ${listed.join(', ')})`);
  assert.deepEqual(
    ops.filter((o) => o.access === 'public').map((o) => `${o.method} ${o.template}`).sort(),
    ['GET /v1/health', 'GET /v1/openapi.json'],
    'only health and the document itself are public',
  );

  // Something to address: a job, and a snapshot a restore could read.
  const first = await backupNow(d, site);
  const target = join(site.restore, 'matrix');
  const values: Record<string, string> = { name: site.group, id: String(first['id']) };
  const concrete = (o: Operation): string =>
    o.template.replace(/\{(\w+)\}/g, (_, p: string) => {
      const v = values[p];
      if (v === undefined) assert.fail(`${o.method} ${o.template}: no value for the parameter {${p}}; give this test one`);
      return encodeURIComponent(v);
    });
  const bodyOf = (o: Operation): unknown => (o.method === 'GET' ? undefined : o.template === '/v1/restore' ? { group: site.group, snapshot: 'latest', include: [join(site.src, 'a.txt')], target } : {});

  // Refusals first, each unauthenticated one from its own client address (so the slowdown of clients
  // that keep failing stays out of this test, and each refusal can be told apart in the audit log).
  const jobsBefore = await jobList(d, site);
  const auditBefore = await auditLog(d, site);
  const refused: Array<{ method: string; path: string; status: number; actor: string; remote?: string }> = [];
  for (const o of ops) {
    const path = concrete(o);
    const what = `${o.method} ${path}`;
    if (o.access === 'public') {
      for (const token of [undefined, 'not-a-token', ...ROLES.map((r) => site.tokens[r])]) {
        const a = await call(d, o.method, path, { token, body: bodyOf(o) });
        assert.equal(a.status, 200, `${what} with ${token === undefined ? 'no token' : 'a token'}: ${showAnswer(a)}`);
      }
      continue;
    }
    for (const [label, token] of [['no token', undefined], ['an unknown token', `x${site.tokens.admin.slice(1)}`]] as const) {
      const remote = freshClientAddress();
      const a = await call(d, o.method, path, { token, body: bodyOf(o), localAddress: remote });
      assert.equal(a.status, 401, `${what} with ${label}: ${showAnswer(a)}`);
      assert.match(String(a.headers['www-authenticate']), /^Bearer /, `${what} with ${label}: WWW-Authenticate`);
      assert.equal(a.json?.error?.code, 'UNAUTHENTICATED', `${what} with ${label}: ${showAnswer(a)}`);
      refused.push({ method: o.method, path, status: 401, actor: '-', remote });
    }
    for (const role of ROLES.filter((r) => RANK[r] < RANK[o.access as Role])) {
      const a = await call(d, o.method, path, { token: site.tokens[role], body: bodyOf(o) });
      assert.equal(a.status, 403, `${what} as ${role} (needs ${o.access}): ${showAnswer(a)}`);
      assert.equal(a.json?.error?.code, 'FORBIDDEN', `${what} as ${role}: ${showAnswer(a)}`);
      refused.push({ method: o.method, path, status: 403, actor: `${role}-token` });
    }
  }

  // Nothing happened: no job queued or changed, nothing restored; every refusal was written down.
  assert.deepEqual(await jobList(d, site), jobsBefore, 'refused calls queued or changed no job');
  assert.equal(existsSync(target), false, 'a refused restore wrote nothing');
  const seen = new Set(auditBefore.map((e) => e.id));
  const added = (await auditLog(d, site)).filter((e) => !seen.has(e.id));
  assert.deepEqual(
    added.map((e) => ({ method: e.method, path: e.path, status: e.status, actor: e.actor, outcome: e.outcome, ...(e.status === 401 ? { remote: e.remote } : {}) })),
    refused.map((r) => ({ method: r.method, path: r.path, status: r.status, actor: r.actor, outcome: 'refused', ...(r.remote ? { remote: r.remote } : {}) })),
    'each refusal is in the audit log, in order, and nothing else is',
  );

  // Enough of a role passes, for every route (the restore once: it needs a new folder).
  for (const o of ops.filter((x) => x.access !== 'public')) {
    for (const role of ROLES.filter((r) => RANK[r] >= RANK[o.access as Role])) {
      const a = await call(d, o.method, concrete(o), { token: site.tokens[role], body: bodyOf(o) });
      assert.ok(a.status >= 200 && a.status < 300, `${o.method} ${concrete(o)} as ${role}: ${showAnswer(a)}`);
    }
  }
  assert.equal(readFileSync(join(target, site.src, 'a.txt'), 'utf8'), 'alpha\n', 'the admin restore, the one allowed, wrote the file');
});

void test('bad input: oversized bodies 413, restores outside restore_paths or through a symlink refused and audited, bad JSON 400, unknown names 404; a good restore of one file', async (t) => {
  const site = await makeSite(t);
  const d = await startDaemon(site);
  const admin = site.tokens.admin;
  await backupNow(d, site);
  const jobsBefore = await jobList(d, site);

  // Over 64 KiB: refused before anything runs, whether the size is announced or only streamed.
  const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
  for (const chunked of [false, true]) {
    const a = await call(d, 'POST', `/v1/groups/${site.group}/backup`, { token: admin, body: big, chunked });
    assert.equal(a.status, 413, `${chunked ? 'chunked' : 'with Content-Length'}: ${showAnswer(a)}`);
    assert.equal(a.json?.error?.code, 'TOO_LARGE');
    // The rest of the body is not read: the connection must not be offered for another request.
    assert.equal(a.headers['connection'], 'close', 'a 413 closes its connection');
    const r = await call(d, 'POST', '/v1/restore', { token: admin, body: JSON.stringify({ group: site.group, snapshot: 'latest', target: join(site.restore, 'big'), pad: 'x'.repeat(70 * 1024) }), chunked });
    assert.equal(r.status, 413, `restore, ${chunked ? 'chunked' : 'with Content-Length'}: ${showAnswer(r)}`);
  }
  assert.equal(existsSync(join(site.restore, 'big')), false);
  assert.deepEqual(await jobList(d, site), jobsBefore, 'an oversized body queued nothing');

  const restore = (body: unknown): Promise<Awaited<ReturnType<typeof call>>> => call(d, 'POST', '/v1/restore', { token: admin, body });
  const auditAfter = async (since: number): Promise<Array<{ outcome: string; status: number; detail?: string; path: string }>> => (await auditLog(d, site)).filter((e) => e.id > since);
  const lastAuditId = async (): Promise<number> => (await auditLog(d, site)).at(-1)?.id ?? 0;

  // Outside api.restore_paths.
  const outside = join(site.dir, 'outside');
  let mark = await lastAuditId();
  let a = await restore({ group: site.group, snapshot: 'latest', target: join(outside, 'x') });
  assert.equal(a.status, 403, showAnswer(a));
  assert.equal(a.json?.error?.code, 'UNSAFE_PATH');
  assert.equal(existsSync(outside), false, 'nothing was written outside restore_paths');
  let audited = await auditAfter(mark);
  assert.equal(audited.length, 1, JSON.stringify(audited));
  assert.equal(audited[0]!.outcome, 'refused');
  assert.equal(audited[0]!.status, 403);
  assert.match(audited[0]!.detail ?? '', /outside the folders restores may write to/);

  // A relative target, and the allowed folder itself.
  for (const target of ['restore/x', site.restore]) {
    a = await restore({ group: site.group, snapshot: 'latest', target });
    assert.equal(a.status, 403, `${target}: ${showAnswer(a)}`);
  }

  // A symlink inside the allowed folder that leads out of it: neither it nor a folder below it is a way out.
  mkdirSync(outside);
  symlinkSync(outside, join(site.restore, 'link'));
  for (const target of [join(site.restore, 'link'), join(site.restore, 'link', 'x')]) {
    mark = await lastAuditId();
    a = await restore({ group: site.group, snapshot: 'latest', target });
    assert.equal(a.status, 403, `${target}: ${showAnswer(a)}`);
    assert.deepEqual(readdirSync(outside), [], 'nothing was written through the link');
    audited = await auditAfter(mark);
    assert.deepEqual(audited.map((e) => [e.outcome, e.status]), [['refused', 403]]);
  }

  // A link that leads nowhere (what it would lead to once made is not checked), a file, a path below a
  // file: refused as targets (they were 500s), nothing made where the dangling link points.
  symlinkSync(join(site.dir, 'nowhere'), join(site.restore, 'dangling'));
  writeFileSync(join(site.restore, 'file'), 'x');
  for (const target of [join(site.restore, 'dangling'), join(site.restore, 'dangling', 'x'), join(site.restore, 'file'), join(site.restore, 'file', 'x')]) {
    a = await restore({ group: site.group, snapshot: 'latest', target });
    assert.equal(a.status, 403, `${target}: ${showAnswer(a)}`);
    assert.match(a.json.error.message, /leads nowhere|is not a folder/, showAnswer(a));
  }
  assert.equal(existsSync(join(site.dir, 'nowhere')), false);

  // Malformed JSON and wrong shapes.
  for (const body of ['{"group": ', 'null', '[]', JSON.stringify({ group: site.group, snapshot: 'latest' }), JSON.stringify({ group: 7, snapshot: 'latest', target: join(site.restore, 'y') })]) {
    a = await restore(body);
    assert.equal(a.status, 400, `${body}: ${showAnswer(a)}`);
    assert.equal(a.json?.error?.code, 'USAGE', body);
  }

  // Unknown names.
  for (const [method, path, body] of [
    ['POST', '/v1/groups/nope/backup', {}],
    ['POST', '/v1/groups/nope/check', {}],
    ['GET', '/v1/groups/nope', undefined],
    ['GET', '/v1/groups/nope/snapshots', undefined],
    ['GET', '/v1/jobs/abc', undefined],
    ['GET', '/v1/jobs/999999', undefined],
    ['GET', '/v1/nothing-here', undefined],
    ['POST', '/v1/restore', { group: 'nope', snapshot: 'latest', target: join(site.restore, 'z') }],
    ['POST', '/v1/restore', { group: site.group, snapshot: 'ffffffff', target: join(site.restore, 'z') }],
  ] as const) {
    a = await call(d, method, path, { token: admin, body });
    assert.equal(a.status, 404, `${method} ${path} ${JSON.stringify(body)}: ${showAnswer(a)}`);
    assert.equal(a.json?.error?.code, 'NOT_FOUND');
  }
  assert.equal(existsSync(join(site.restore, 'z')), false);
  assert.deepEqual(await jobList(d, site), jobsBefore, 'no bad request queued a job');

  // A good restore of one file into a new folder: that file, with its content, and nothing else.
  const good = join(site.restore, 'one', 'file');
  a = await restore({ group: site.group, snapshot: 'latest', include: [join(site.src, 'sub', 'b.txt')], target: good });
  assert.equal(a.status, 200, showAnswer(a));
  assert.equal(a.json.files, 1, showAnswer(a));
  assert.equal(readFileSync(join(good, site.src, 'sub', 'b.txt'), 'utf8'), 'bravo '.repeat(1000));
  assert.equal(existsSync(join(good, site.src, 'a.txt')), false, 'only the included file');
  audited = (await auditLog(d, site)).slice(-1);
  assert.deepEqual(audited.map((e) => [e.path, e.outcome, e.status]), [['/v1/restore', 'ok', 200]]);
  // The same folder again: it is not empty now.
  a = await restore({ group: site.group, snapshot: 'latest', target: good });
  assert.equal(a.status, 403, showAnswer(a));

  // The audit log's ?limit: a count up to 1000, else the default 100 (never all of it, never a 500).
  const viewerAgent = new Agent({ keepAlive: true, ca: d.cert });
  t.after(() => viewerAgent.destroy());
  for (let i = 0; i < 110; i++) assert.equal((await call(d, 'POST', `/v1/groups/${site.group}/check`, { token: site.tokens.viewer, body: {}, agent: viewerAgent })).status, 403);
  const total = (await auditLog(d, site)).length;
  assert.ok(total > 110, `${total} audit entries`);
  for (const [limit, want] of [['5', 5], ['-1', 100], ['1.5', 100], ['abc', 100], ['0', 100], ['', 100], ['99999', total]] as const) {
    a = await call(d, 'GET', `/v1/audit?limit=${limit}`, { token: admin });
    assert.equal(a.status, 200, `limit=${limit}: ${showAnswer(a)}`);
    assert.equal(a.json.audit.length, want, `limit=${limit}`);
  }
});

void test('a client that keeps sending bad tokens is answered more and more slowly, then 429; a valid token from it is answered at once and does not wipe the slate', async (t) => {
  const site = await makeSite(t);
  const d = await startDaemon(site);
  const me = freshClientAddress();
  // One kept-alive connection, opened before measuring: the times below are the daemon's, not TLS handshakes.
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: d.cert });
  t.after(() => agent.destroy());
  const warm = await call(d, 'GET', '/v1/health', { localAddress: me, agent });
  assert.equal(warm.status, 200);

  const bad = async (): Promise<number> => {
    const a = await call(d, 'GET', '/v1/status', { token: 'guess-0123456789abcdef', localAddress: me, agent });
    assert.equal(a.status, 401, showAnswer(a));
    return a.ms;
  };
  const times: number[] = [];
  for (let i = 0; i < 9; i++) times.push(await bad());
  const msg = `elapsed ms per attempt: ${times.map((x) => x.toFixed(0)).join(', ')}`;
  // The first five are not held back at all; from the sixth on each waits longer (100 ms, then doubling).
  assert.ok(Math.min(...times.slice(0, 5)) < 100, msg);
  assert.ok(times[0]! < 100, msg);
  assert.ok(times[8]! >= 100, msg);
  for (let i = 5; i < 9; i++) assert.ok(times[i]! >= 100 * 2 ** (i - 5) - 5, `attempt ${i + 1} is held back at least ${100 * 2 ** (i - 5)} ms; ${msg}`);
  assert.ok(times[8]! > times[0]! + 500, msg);

  // A valid token from the slowed client is answered at once (junk from an address must not lock out the
  // admin or Prometheus that share it), and does not wipe the slate: the next guess is still held back.
  const ok = await call(d, 'GET', '/v1/status', { token: site.tokens.viewer, localAddress: me, agent });
  assert.equal(ok.status, 200, showAnswer(ok));
  assert.ok(ok.ms < 500, `a valid token from a slowed client is not held back (${ok.ms.toFixed(0)} ms); ${msg}`);
  const after = await bad();
  assert.ok(after >= 1000, `the guess after a valid call is still held back (${after.toFixed(0)} ms); ${msg}`);
  // Guesses sent in parallel: at most 8 of an address wait out their delay at once, the rest are told 429
  // at once (a refusal keeps its place for its whole delay, so hanging up gains nothing).
  const par = new Agent({ keepAlive: true, maxSockets: 16, ca: d.cert });
  t.after(() => par.destroy());
  const many = await Promise.all(Array.from({ length: 12 }, () => call(d, 'GET', '/v1/status', { token: 'guess-parallel-0123456789', localAddress: me, agent: par })));
  const held = many.filter((a) => a.status === 401);
  const told = many.filter((a) => a.status === 429);
  assert.equal(held.length + told.length, 12, many.map(showAnswer).join('\n'));
  assert.equal(held.length, 8, `8 held, the rest 429: ${many.map((a) => a.status).join(',')}`);
  assert.ok(held.every((a) => a.ms >= 1600 - 50), `the held ones waited their delay: ${held.map((a) => a.ms.toFixed(0)).join(', ')}`);
  assert.ok(told.every((a) => a.ms < 1000 && /^\d+$/.test(String(a.headers['retry-after']))), `429 at once, with Retry-After: ${told.map(showAnswer).join('\n')}`);

  // Another client is not slowed by this one.
  const other = await call(d, 'GET', '/v1/status', { token: 'guess-0123456789abcdef', localAddress: freshClientAddress() });
  assert.equal(other.status, 401);
  assert.ok(other.ms < after, `another client's first bad token is answered without delay (${other.ms.toFixed(0)} ms)`);
});

void test('TLS: the CLI pins the certificate from the data folder or --fingerprint; a wrong pin is refused before the token is sent; no plain HTTP', async (t) => {
  const site = await makeSite(t);
  const d = await startDaemon(site);
  const cfg = ['-c', site.config];
  assert.match(d.fingerprint, /^sha256:[0-9a-f]{64}$/);
  assert.equal(d.url, `https://127.0.0.1:${d.port}`);

  // Pinned from <data>/api.crt, token from <data>/local.token.
  let r = await lifeboat(['--json', 'status', ...cfg]);
  assert.equal(r.code, 0, show(r));
  assert.equal(JSON.parse(r.stdout).site, 'test');
  r = await lifeboat(['status', ...cfg, '--fingerprint', d.fingerprint]);
  assert.equal(r.code, 0, show(r));
  // The forms openssl prints are accepted too.
  const colons = d.fingerprint.slice(7).toUpperCase().match(/../g)!.join(':');
  r = await lifeboat(['status', ...cfg, '--fingerprint', colons]);
  assert.equal(r.code, 0, show(r));

  // A wrong pin: refused, naming both fingerprints; the daemon saw no request (a token it would have
  // refused and audited, an admin token that would have queued a job).
  const jobsBefore = await jobList(d, site);
  const auditBefore = await auditLog(d, site);
  const wrong = `sha256:${'0123456789abcdef'.repeat(4)}`;
  r = await lifeboat(['status', ...cfg, '--fingerprint', wrong], { env: { LIFEBOAT_TOKEN: 'not-a-token-but-audited-if-sent' } });
  assert.equal(r.code, 15, show(r));
  assert.ok(r.stderr.includes(wrong) && r.stderr.includes(d.fingerprint), `names both fingerprints: ${show(r)}`);
  assert.match(r.stderr, /nothing was sent/);
  r = await lifeboat(['run', site.group, ...cfg, '--fingerprint', wrong]);
  assert.equal(r.code, 15, show(r));
  assert.deepEqual(await auditLog(d, site), auditBefore, 'the daemon received no request from the refused attempts');
  assert.deepEqual(await jobList(d, site), jobsBefore, 'no job was queued');
  assert.equal(r.stderr.includes(readFileSync(join(site.data, 'local.token'), 'utf8').trim()), false);

  // Plain HTTP to the HTTPS port: the connection is closed at once, with no answer.
  await assert.rejects(
    new Promise((resolve, reject) => {
      const req = httpRequest(`http://127.0.0.1:${d.port}/v1/health`, { timeout: 10_000 }, (res) => resolve(`an answer: ${res.statusCode}`));
      req.on('timeout', () => req.destroy(new Error('no answer and not closed within 10 s')));
      req.on('error', reject);
      req.end();
    }),
    (err: Error & { code?: string }) => err.code === 'ECONNRESET',
  );
  // The daemon still serves.
  assert.equal((await call(d, 'GET', '/v1/health')).status, 200);
});

void test('TLS: plain HTTP off loopback is refused by config check and by the daemon (exit 2)', async (t) => {
  const site = await makeSite(t, { host: '0.0.0.0', tls: 'false' });
  writeConfig(site, 7420);
  for (const args of [['config', 'check', '-c', site.config], ['daemon', '-c', site.config]]) {
    const r = await lifeboat(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
    assert.match(r.stderr, /plain HTTP on 0\.0\.0\.0/, show(r));
    assert.match(r.stderr, /api\.tls/, show(r));
  }
  assert.equal(existsSync(site.data), false, 'the daemon did not start');
});

void test('lifeboat status, jobs and run against the daemon; status agrees with the repository; with no daemon, status says how to start one', async (t) => {
  const site = await makeSite(t, { rpo: '1h' });
  const d = await startDaemon(site);
  const cfg = ['-c', site.config];

  let r = await lifeboat(['--json', 'status', ...cfg]);
  assert.equal(r.code, 0, show(r));
  let st = JSON.parse(r.stdout) as { groups: Array<{ name: string; snapshots?: number; last_good?: string; rpo_seconds?: number }> };
  assert.deepEqual(st.groups.map((g) => [g.name, g.last_good, g.rpo_seconds]), [[site.group, undefined, 3600]]);

  // run waits for the job and exits 0; twice, so the group has two snapshots.
  for (let i = 0; i < 2; i++) {
    r = await lifeboat(['--json', 'run', site.group, ...cfg]);
    assert.equal(r.code, 0, show(r));
    const job = (JSON.parse(r.stdout) as { job: { status: string; snapshots: string[] } }).job;
    assert.equal(job.status, 'ok', show(r));
    assert.equal(job.snapshots.length, 1, show(r));
  }
  r = await lifeboat(['run', site.group, ...cfg, '--no-wait']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^job \d+ queued$/m);
  r = await lifeboat(['run', 'nope', ...cfg]);
  assert.equal(r.code, 15, `run of an unknown group: ${show(r)}`);

  const jobs = await lifeboat(['--json', 'jobs', ...cfg]);
  assert.equal(jobs.code, 0, show(jobs));
  const listed = (JSON.parse(jobs.stdout) as { jobs: Array<{ id: number; group: string; trigger: string }> }).jobs;
  assert.equal(listed.length, 3, show(jobs));
  assert.deepEqual(listed.map((j) => j.id), [3, 2, 1], 'newest first');
  assert.ok(listed.every((j) => j.group === site.group && j.trigger === 'api'), show(jobs));
  const third = listed[0]!.id;
  const last = await waitJob(d, site.tokens.viewer, third);
  assert.equal(last['status'], 'ok');

  r = await lifeboat(['--json', 'status', ...cfg]);
  assert.equal(r.code, 0, show(r));
  st = JSON.parse(r.stdout);
  const snaps = await lifeboat(['-r', site.repo, '--password-file', site.passwordFile, '--json', 'snapshots']);
  assert.equal(snaps.code, 0, show(snaps));
  const inRepo = (JSON.parse(snaps.stdout) as Array<{ group?: string }>).filter((s) => s.group === site.group).length;
  assert.equal(inRepo, 3);
  assert.equal(st.groups[0]!.snapshots, inRepo, 'status counts the snapshots the repository holds');
  assert.ok(st.groups[0]!.last_good, show(r));

  // The human form names the group and its state.
  r = await lifeboat(['status', ...cfg]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, new RegExp(`^${site.group} .* ok .* 3$`, 'm'), show(r));

  await d.stop();
  r = await lifeboat(['status', ...cfg]);
  assert.equal(r.code, 15, show(r));
  assert.match(r.stderr, /no daemon answers at https:\/\/127\.0\.0\.1:\d+/, show(r));
  assert.match(r.stderr, /lifeboat daemon -c/, `the hint says how to start one: ${show(r)}`);
});

void test('the built command (the bundle) makes the self-signed certificate on first start, serves over it, and its status pins it', async (t) => {
  const out = mkdtempSync(join(root, '.build-test-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), out], { stdio: 'pipe' });
  const entry = join(out, 'main.js');
  const site = await makeSite(t);
  assert.equal(existsSync(join(site.data, 'api.crt')), false);
  const d = await startDaemon(site, { entry });
  assert.equal(fingerprintOf(readFileSync(join(site.data, 'api.crt'), 'utf8')), d.fingerprint);
  assert.equal((await call(d, 'GET', '/v1/status', { token: site.tokens.viewer })).status, 200);
  const r = await lifeboat(['--json', 'status', '-c', site.config], { entry });
  assert.equal(r.code, 0, show(r));
  assert.equal(JSON.parse(r.stdout).site, 'test');
});
