/**
 * Two sites as network namespaces (../shared/recipes/sites-in-namespaces.md): the primary's daemon on
 * 198.51.100.11 replicates a files group to the hot site's daemon on 198.51.100.12 over TLS with a pinned
 * certificate. A writer changes the source four times a second. The hot site is cut off for 30 s: the
 * recovery point the primary reports rises past the group's objective (status exits 3), and once the link
 * is back the replica catches up with everything written, and the recovery point falls back under it.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeHosts, type Hosts } from '../helpers/netns.ts';
import { compareTrees } from '../helpers/tree.ts';
import { waitFor } from '../helpers/wait.ts';
import { makeSite, root, writeConfig, type Site } from '../daemon/helpers.ts';

const isRoot = process.getuid?.() === 0;
const bin = join(root, 'bin', 'lifeboat.js');

interface SiteDaemon {
  events: Array<Record<string, unknown>>;
  out: () => string;
}

/** `lifeboat --json daemon` in a host's namespace; its JSON events collected. */
function runDaemon(hosts: Hosts, host: string, site: Site): SiteDaemon {
  const child = hosts.spawn(host, [process.execPath, bin, '--json', 'daemon', '-c', site.config]);
  const events: Array<Record<string, unknown>> = [];
  let partial = '';
  let all = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    all += s;
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (l.trim().startsWith('{')) events.push(JSON.parse(l) as Record<string, unknown>);
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (all += s));
  return { events, out: () => all };
}

/** `lifeboat --json status` on the primary's host (its exit status says whether a group is over its RPO). */
function status(hosts: Hosts, site: Site): { code: number; group: Record<string, unknown> } {
  const r = spawnSync('ip', ['netns', 'exec', hosts.ns('sa'), process.execPath, bin, '--json', 'status', '-c', site.config], { encoding: 'utf8', timeout: 30_000 });
  const json = JSON.parse(r.stdout || '{}') as { groups?: Array<Record<string, unknown>> };
  return { code: r.status ?? -1, group: json.groups?.[0] ?? {} };
}

void test('two sites in network namespaces: replication over TLS; a 30 s cut ages the recovery point past the objective; after it the replica catches up with everything and the recovery point falls back', { skip: !isRoot && 'network namespaces need root', timeout: 300_000 }, async (t) => {
  const hosts = makeHosts(t, { sa: '198.51.100.11/24', sb: '198.51.100.12/24' });
  const linkToken = randomBytes(24).toString('hex');

  const hot = await makeSite(t, { host: '198.51.100.12' });
  const tokenFile = join(hot.dir, 'primary.token');
  writeFileSync(tokenFile, `${linkToken}\n`, { mode: 0o600 });
  const replica = join(hot.dir, 'replica');
  hot.opts.extra = ['journals:', '  web:', '    from: primary', `    token_file: ${JSON.stringify(tokenFile)}`, `    password_file: ${JSON.stringify(hot.passwordFile)}`, `    replica: ${JSON.stringify(replica)}`].join('\n');
  writeConfig(hot, 7420);
  const h = runDaemon(hosts, 'sb', hot);
  await waitFor('the hot site to listen', () => h.events.some((e) => e['event'] === 'api-listening'), 60_000, 50).catch((e: Error) => {
    throw new Error(`${e.message}\n${h.out()}`);
  });
  const fingerprint = String(h.events.find((e) => e['event'] === 'api-listening')!['fingerprint']);

  const primary = await makeSite(t, { host: '198.51.100.11' });
  const sendFile = join(primary.dir, 'hot.token');
  writeFileSync(sendFile, `${linkToken}\n`, { mode: 0o600 });
  primary.opts.extra = ['sites:', '  hot:', '    url: "https://198.51.100.12:7420"', `    fingerprint: "${fingerprint}"`, `    token_file: ${JSON.stringify(sendFile)}`].join('\n');
  primary.opts.groupLines = ['rpo: 10s', 'replicate: { to: hot, every: 1s }'];
  writeConfig(primary, 7420);
  const p = runDaemon(hosts, 'sa', primary);
  await waitFor('the primary to listen', () => p.events.some((e) => e['event'] === 'api-listening'), 60_000, 50).catch((e: Error) => {
    throw new Error(`${e.message}\n${p.out()}`);
  });

  // The writer: a new file and a changed counter every 250 ms.
  const log = join(primary.src, 'log');
  mkdirSync(log);
  let step = 0;
  const write = (): void => {
    writeFileSync(join(log, `${String(step).padStart(5, '0')}.txt`), `step ${step}\n`);
    writeFileSync(join(primary.src, 'counter'), String(step));
    step++;
  };
  const writer = setInterval(write, 250);
  t.after(() => clearInterval(writer));
  const mirror = join(replica, primary.src);
  const replicaStep = (): number => {
    try {
      return Number(readFileSync(join(mirror, 'counter'), 'utf8'));
    } catch {
      return -1;
    }
  };
  await waitFor('the replica to follow the writer', () => replicaStep() >= 8, 60_000, 100);
  const before = status(hosts, primary);
  t.diagnostic(`before the cut: exit ${before.code}, age ${String(before.group['age_seconds'])} s, replication ${JSON.stringify(before.group['replication'])}`);
  assert.equal(before.code, 0, JSON.stringify(before.group));

  // The hot site cut off for 30 s while the writer goes on.
  hosts.cut('sb');
  const cutAt = step;
  const cutStarted = Date.now();
  let worst = 0;
  let breached = false;
  while (Date.now() - cutStarted < 30_000) {
    const s = status(hosts, primary);
    worst = Math.max(worst, Number(s.group['age_seconds'] ?? 0));
    if (s.code === 3 && s.group['rpo_breached'] === true) breached = true;
    await new Promise((r) => setTimeout(r, 2000));
  }
  t.diagnostic(`during the cut (writer at ${cutAt} → ${step}): worst age ${worst} s, over the 10 s objective: ${breached}`);
  assert.ok(breached && worst > 10, `the recovery point rose past the objective (worst ${worst} s)`);
  hosts.heal('sb');
  const healed = Date.now();
  const target = step;
  await waitFor('the replica to catch up', () => replicaStep() >= target, 120_000, 100);
  const caughtUp = Date.now() - healed;
  clearInterval(writer);
  // Everything written, before and during the cut, is there: the replica equals the source once it settles.
  await waitFor('the replica to equal the source', () => compareTrees(primary.src, mirror, { owner: false }).length === 0, 60_000, 200);
  const after = status(hosts, primary);
  t.diagnostic(`after the cut: caught up in ${caughtUp} ms; exit ${after.code}, age ${String(after.group['age_seconds'])} s`);
  assert.equal(after.code, 0, JSON.stringify(after.group));
  assert.ok(Number(after.group['age_seconds']) < 10);
});
