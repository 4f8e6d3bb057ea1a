/**
 * A real Prometheus scrapes the real daemon's /metrics over HTTPS with a viewer token, trusting the
 * daemon's self-signed certificate as its CA: the recovery point's age arrives, sane, and the target is up.
 * Also: the exposition text names every metric metrics.ts documents.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, waitFor } from '../helpers/wait.ts';
import { call, killByPid, makeSite, showAnswer, startDaemon } from './helpers.ts';

/** Every metric metrics.ts registers (the process's own, under lifeboat_process_, are checked by prefix). */
const METRICS = [
  'lifeboat_group_recovery_point_age_seconds',
  'lifeboat_group_recovery_point_timestamp_seconds',
  'lifeboat_group_rpo_objective_seconds',
  'lifeboat_group_rpo_breached',
  'lifeboat_group_last_job_success',
  'lifeboat_group_last_job_duration_seconds',
  'lifeboat_group_last_backup_added_bytes',
  'lifeboat_group_snapshots',
  'lifeboat_group_jobs_running',
  'lifeboat_repository_size_bytes',
  'lifeboat_scheduler_lag_seconds',
  'lifeboat_job_failures_total',
];

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

void test('Prometheus scrapes the daemon over HTTPS with a viewer token: the recovery point age of a group backed up every 2 s', async (t) => {
  const site = await makeSite(t, { schedule: '*/2 * * * * *', rpo: '1h' });
  const d = await startDaemon(site);

  // The exposition text, as a viewer: every documented metric, with the group's labels once a backup ran.
  await waitFor(
    'a scheduled backup to finish',
    async () => {
      const a = await call(d, 'GET', `/v1/groups/${site.group}`, { token: site.tokens.viewer });
      return a.status === 200 && a.json.last_good !== undefined;
    },
    60_000,
  );
  const text = await call(d, 'GET', '/metrics', { token: site.tokens.viewer });
  assert.equal(text.status, 200, showAnswer(text));
  assert.match(String(text.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  for (const m of METRICS) {
    assert.match(text.text, new RegExp(`^# HELP ${m} \\S`, 'm'), `${m} is documented`);
    assert.match(text.text, new RegExp(`^# TYPE ${m} (gauge|counter)$`, 'm'), `${m} has a type`);
  }
  // The process's own (prom-client's defaults), under lifeboat_ once: not lifeboat_process_process_.
  assert.match(text.text, /^lifeboat_process_cpu_seconds_total \d/m);
  assert.match(text.text, /^lifeboat_process_resident_memory_bytes \d/m);
  assert.match(text.text, /^lifeboat_nodejs_eventloop_lag_seconds \d/m);
  assert.doesNotMatch(text.text, /^lifeboat_process_(process|nodejs)_/m);
  assert.match(text.text, new RegExp(`^lifeboat_group_recovery_point_age_seconds\\{group="${site.group}"\\} [\\d.e+-]+$`, 'm'));
  assert.match(text.text, new RegExp(`^lifeboat_group_rpo_objective_seconds\\{group="${site.group}"\\} 3600$`, 'm'));
  assert.match(text.text, new RegExp(`^lifeboat_group_last_job_success\\{group="${site.group}",kind="backup"\\} 1$`, 'm'));
  assert.match(text.text, new RegExp(`^lifeboat_group_rpo_breached\\{group="${site.group}"\\} 0$`, 'm'));
  assert.equal((await call(d, 'GET', '/metrics')).status, 401, 'no token, no metrics');

  // A real Prometheus, on its own port and storage, scraping every second.
  const prom = join(site.dir, 'prometheus');
  mkdirSync(join(prom, 'data'), { recursive: true });
  const tokenFile = join(prom, 'token');
  writeFileSync(tokenFile, site.tokens.viewer, { mode: 0o600 });
  const config = [
    'global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: lifeboat',
    '    scheme: https',
    `    authorization: { type: Bearer, credentials_file: ${JSON.stringify(tokenFile)} }`,
    // The daemon's own certificate as the CA: its subject alternative names include 127.0.0.1.
    `    tls_config: { ca_file: ${JSON.stringify(join(site.data, 'api.crt'))} }`,
    `    static_configs: [{ targets: ["127.0.0.1:${d.port}"] }]`,
  ].join('\n');
  writeFileSync(join(prom, 'prometheus.yml'), `${config}\n`);

  let promPort = 0;
  let promLog = '';
  for (let attempt = 0; ; attempt++) {
    promPort = await freePort();
    const child = spawn(
      'prometheus',
      [`--config.file=${join(prom, 'prometheus.yml')}`, `--storage.tsdb.path=${join(prom, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    site.cleanups.push(() => killByPid(child));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (promLog += s));
    let exited = false;
    child.once('exit', () => (exited = true));
    await waitFor('Prometheus to be ready', async () => exited || (await fetch(`http://127.0.0.1:${promPort}/-/ready`).then((r) => r.ok, () => false)), 60_000, 100);
    if (!exited) break;
    if (attempt >= 4 || !/address already in use/.test(promLog)) assert.fail(`prometheus did not start:\n${promLog}`);
  }

  const query = async (q: string): Promise<Sample[]> => {
    const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await r.json()) as { status: string; data: { result: Sample[] } };
    assert.equal(body.status, 'success', JSON.stringify(body));
    return body.data.result;
  };
  let up: Sample[] = [];
  let age: Sample[] = [];
  await waitFor(
    'Prometheus to have scraped the recovery point age',
    async () => {
      up = await query('up{job="lifeboat"}');
      age = await query('lifeboat_group_recovery_point_age_seconds');
      // A scrape that meets a busy moment (a backup every 2 s on a loaded CI machine) can time out and
      // read up=0 once; the claim is that scraping works, so wait for a good scrape, not the first one.
      return up.some((s) => s.value[1] === '1') && age.some((s) => s.metric['group'] === site.group);
    },
    60_000,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; up: ${JSON.stringify(up)}; prometheus log:\n${promLog}`);
  });
  assert.deepEqual(up.map((s) => [s.metric['instance'], s.value[1]]), [[`127.0.0.1:${d.port}`, '1']], 'the target is up');
  const sample = age.find((s) => s.metric['group'] === site.group)!;
  assert.equal(sample.metric['job'], 'lifeboat');
  const seconds = Number(sample.value[1]);
  assert.ok(Number.isFinite(seconds) && seconds >= 0 && seconds < 60, `age ${sample.value[1]} s`);

  // Other series of the same scrape.
  const snapshots = await query(`lifeboat_group_snapshots{group="${site.group}"}`);
  assert.ok(Number(snapshots[0]?.value[1]) >= 1, JSON.stringify(snapshots));
  const breached = await query(`lifeboat_group_rpo_breached{group="${site.group}"}`);
  assert.equal(breached[0]?.value[1], '0');
});
