/**
 * Replication to a hot site, measured end to end. Two daemons, each in a network namespace as its own site
 * (../shared/recipes/sites-in-namespaces.md): the primary on 198.51.100.11 replicates a files group
 * (checkpoint every 1 s, watcher on) over TLS to the hot site on 198.51.100.12, which keeps the journal and
 * a hot replica folder. Build first (the daemons run as users run them, `bin/lifeboat.js` on dist/):
 *
 *   npm run --silent build && npx tsx bench/replication.ts [--rates 1,10,50] [--phase-s 30]
 *       [--outage-s 60] [--outage-rate 10] [--out DIR]
 *
 * Needs root (namespaces). Takes about 4 minutes with the defaults. For each sustained change rate a
 * writer (this process) adds a file of incompressible data every 100 ms to the primary's folder (rate/10
 * per file; the oldest removed past 300 files) and records when. The recovery point is measured from the
 * outside, where it matters: every 100 ms, now minus the write time of the newest file whole in the hot
 * replica folder (a checkpoint is a consistent cut, so every earlier file is there too). Also the primary
 * daemon's CPU (utime + stime from /proc, % of one core) during the phase. Then the hot site is cut off
 * for --outage-s while the writer goes on at --outage-rate, the link is healed, and the catch-up is timed
 * (until the replica holds the newest file written before the heal): the bytes written during the cut over
 * that time. Writes bench/results/replication-<date>.md and .json.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeHosts } from '../test/helpers/netns.ts';

const { values: o } = parseArgs({
  options: {
    rates: { type: 'string', default: '1,10,50' },
    'phase-s': { type: 'string', default: '30' },
    'outage-s': { type: 'string', default: '60' },
    'outage-rate': { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const rates = o.rates.split(',').map(Number);
const phaseMs = Number(o['phase-s']) * 1000;
const outageMs = Number(o['outage-s']) * 1000;
const outageRate = Number(o['outage-rate']);
const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin', 'lifeboat.js');
const PASSWORD = 'bench password';

const cleanups: Array<() => void | Promise<void>> = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
}

interface Daemon {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  out: () => string;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-bench-repl-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const hosts = makeHosts({ after: (fn) => void cleanups.push(fn) }, { sa: '198.51.100.11/24', sb: '198.51.100.12/24' });
  const pw = join(dir, 'pw');
  writeFileSync(pw, PASSWORD, { mode: 0o600 });
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  const env = { ...process.env, LIFEBOAT_PASSWORD: PASSWORD };
  execFileSync(process.execPath, [bin, '-r', join(dir, 'repo'), 'init'], { env, stdio: 'ignore' });
  const src = join(dir, 'src');
  const replica = join(dir, 'replica');
  mkdirSync(src);

  const start = (host: string, name: string, yaml: string): Daemon => {
    const cfg = join(dir, `${name}.yaml`);
    writeFileSync(cfg, yaml);
    const child = hosts.spawn(host, [process.execPath, bin, '--json', 'daemon', '-c', cfg]);
    const events: Array<Record<string, unknown>> = [];
    let all = '';
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      all += s;
      const lines = (partial + s).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.startsWith('{')) events.push(JSON.parse(l) as Record<string, unknown>);
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (all += s));
    return { child, events, out: () => all };
  };
  const hot = start(
    'sb',
    'hot',
    `site: { name: hot, data: ${JSON.stringify(join(dir, 'hot-data'))} }\napi: { listen: "198.51.100.12:7420", tls: self-signed }\njournals:\n  web: { from: primary, token_file: ${JSON.stringify(join(dir, 'token'))}, password_file: ${JSON.stringify(pw)}, replica: ${JSON.stringify(replica)} }\n`,
  );
  await waitFor('the hot site to listen', () => hot.events.some((e) => e['event'] === 'api-listening'), 60_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${hot.out()}`);
  });
  const fingerprint = String(hot.events.find((e) => e['event'] === 'api-listening')!['fingerprint']);
  const primary = start(
    'sa',
    'primary',
    `site: { name: primary, data: ${JSON.stringify(join(dir, 'primary-data'))} }\nrepositories: { main: { path: ${JSON.stringify(join(dir, 'repo'))}, password_file: ${JSON.stringify(pw)} } }\nsites:\n  hot: { url: "https://198.51.100.12:7420", fingerprint: "${fingerprint}", token_file: ${JSON.stringify(join(dir, 'token'))} }\ngroups:\n  web: { members: [ { files: [${JSON.stringify(src)}] } ], rpo: 10s, replicate: { to: hot, every: 1s } }\napi: { listen: "198.51.100.11:7420", tls: self-signed }\n`,
  );
  await waitFor('the primary to listen', () => primary.events.some((e) => e['event'] === 'api-listening'), 60_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${primary.out()}`);
  });
  const ppid = primary.child.pid!;

  // The writer: a file every 100 ms; the sequence number is the name.
  const written: Array<{ t: number; size: number }> = [];
  let rate = 0;
  const writer = setInterval(() => {
    if (rate === 0) return;
    const k = written.length;
    const size = Math.round((rate * 1e6) / 10);
    writeFileSync(join(src, `${String(k).padStart(7, '0')}.bin`), randomBytes(size));
    written.push({ t: Date.now(), size });
    const old = k - 300;
    if (old >= 0) rmSync(join(src, `${String(old).padStart(7, '0')}.bin`), { force: true });
  }, 100);
  cleanups.push(() => clearInterval(writer));
  const mirror = join(replica, src);
  /** The newest file whole in the replica. */
  const newestApplied = (): number => {
    let best = -1;
    let names: string[] = [];
    try {
      names = readdirSync(mirror);
    } catch {
      return -1;
    }
    for (const n of names) {
      const k = Number(n.slice(0, 7));
      if (!(k > best) || !written[k]) continue;
      try {
        if (statSync(join(mirror, n)).size === written[k]!.size) best = k;
      } catch {
        // replaced meanwhile
      }
    }
    return best;
  };

  const phases: Array<Record<string, number>> = [];
  for (const r of rates) {
    rate = r;
    const from = written.length;
    await sleep(3000); // settle into the rate
    const samples: number[] = [];
    const c0 = cpuTicks(ppid);
    const t0 = Date.now();
    while (Date.now() - t0 < phaseMs) {
      const k = newestApplied();
      if (k >= from) samples.push(Date.now() - written[k]!.t);
      await sleep(100);
    }
    const cpu = ((cpuTicks(ppid) - c0) / 100 / ((Date.now() - t0) / 1000)) * 100;
    const bytes = written.slice(from).reduce((a, w) => a + w.size, 0);
    phases.push({ rate_mb_s: r, written_mb_s: bytes / 1e6 / ((Date.now() - t0 + 3000) / 1000), samples: samples.length, rpo_p50_ms: pct(samples, 50), rpo_p99_ms: pct(samples, 99), rpo_max_ms: Math.max(...samples), primary_cpu_pct: cpu });
    console.log(JSON.stringify(phases.at(-1)));
  }

  // The outage.
  rate = outageRate;
  await sleep(3000);
  hosts.cut('sb');
  const cutFrom = written.length;
  await sleep(outageMs);
  hosts.heal('sb');
  const healedAt = Date.now();
  const target = written.length - 1;
  const outageBytes = written.slice(cutFrom).reduce((a, w) => a + w.size, 0);
  await waitFor('the catch-up', () => newestApplied() >= target, 600_000);
  const catchUpMs = Date.now() - healedAt;
  rate = 0;
  const outage = { outage_s: outageMs / 1000, rate_mb_s: outageRate, written_during_mb: outageBytes / 1e6, catch_up_s: catchUpMs / 1000, catch_up_mb_s: outageBytes / 1e6 / (catchUpMs / 1000) };
  console.log(JSON.stringify(outage));

  const stamp = new Date().toISOString().slice(0, 16).replace('T', '-').replace(':', '');
  const outDir = o.out ?? join(root, 'bench', 'results');
  const commit = execFileSync('git', ['rev-parse', '--short=10', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  const md = [
    `# Replication to a hot site (${stamp})`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${release()}, Node ${process.version}. Lifeboat git ${commit} (dist).`,
    'Two daemons in network namespaces joined by a veth bridge (198.51.100.11 → .12), TLS with a pinned self-signed certificate; a files group, checkpoint every 1 s, watcher on; RPO objective 10 s.',
    `Writer: a file of incompressible data every 100 ms (rate/10 each), the oldest removed past 300 files. Recovery point sampled every 100 ms from outside: now − write time of the newest file whole in the hot replica folder. Each phase ${phaseMs / 1000} s after 3 s at the rate.`,
    '',
    '| change rate | written | samples | RPO p50 | RPO p99 | RPO max | primary CPU (% of a core) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...phases.map((p) => `| ${p['rate_mb_s']} MB/s | ${p['written_mb_s']!.toFixed(1)} MB/s | ${p['samples']} | ${(p['rpo_p50_ms']! / 1000).toFixed(2)} s | ${(p['rpo_p99_ms']! / 1000).toFixed(2)} s | ${(p['rpo_max_ms']! / 1000).toFixed(2)} s | ${p['primary_cpu_pct']!.toFixed(1)} % |`),
    '',
    `Outage: the hot site cut off for ${outage.outage_s} s while ${outage.written_during_mb.toFixed(0)} MB were written (${outageRate} MB/s); after the link came back, the replica held the newest file in ${outage.catch_up_s.toFixed(1)} s: ${outage.catch_up_mb_s.toFixed(1)} MB/s of backlog.`,
    '',
  ].join('\n');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `replication-${stamp}.md`), md);
  writeFileSync(join(outDir, `replication-${stamp}.json`), JSON.stringify({ stamp, commit, phases, outage }, null, 2));
  console.log(md);
}

try {
  await main();
} finally {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // keep cleaning
    }
  }
}
