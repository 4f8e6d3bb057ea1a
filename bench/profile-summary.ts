/**
 * Summarises V8 CPU profiles (from `bench/run.ts --profile`, or any `node --cpu-prof` run): self time by
 * function and by source file / package, across every profile given (files or folders).
 *
 *   node --import tsx bench/profile-summary.ts bench/work/run-…/profiles/tiny-backup [--top 25]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

function files(paths: string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? files(readdirSync(p).map((n) => join(p, n)))
      : p.endsWith('.cpuprofile')
        ? [p]
        : [],
  );
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 14);
  const i = url.search(/\/(src|dist|bench|test)\//);
  if (i >= 0) return url.slice(i + 1);
  return url.replace(/^file:\/\//, '');
}

function group(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return `pkg ${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? '?')}`;
  }
  return shortUrl(url);
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  const top = Number(values.top);
  const list = files(positionals);
  if (list.length === 0) {
    console.error('usage: profile-summary.ts PROFILE_OR_FOLDER... [--top N]');
    process.exit(2);
  }
  const byFn = new Map<string, number>();
  const byGroup = new Map<string, number>();
  let total = 0;
  let wall = 0;
  for (const f of list) {
    const p = JSON.parse(readFileSync(f, 'utf8')) as CpuProfile;
    wall += (p.endTime - p.startTime) / 1000;
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    const samples = p.samples ?? [];
    const deltas = p.timeDeltas ?? [];
    samples.forEach((id, i) => {
      const n = nodes.get(id);
      const ms = (deltas[i] ?? 0) / 1000;
      if (n === undefined) return;
      const { functionName, url, lineNumber } = n.callFrame;
      const name = functionName || '(anonymous)';
      const key = url ? `${name}  ${shortUrl(url)}:${lineNumber + 1}` : name;
      byFn.set(key, (byFn.get(key) ?? 0) + ms);
      const g = group(url, name);
      byGroup.set(g, (byGroup.get(g) ?? 0) + ms);
      total += ms;
    });
  }
  const print = (title: string, m: Map<string, number>): void => {
    console.log(`\n${title}`);
    for (const [k, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)} %  ${k}`);
    }
  };
  console.log(`${list.length} profile(s), ${total.toFixed(0)} ms sampled over ${wall.toFixed(0)} ms of thread time`);
  print('self time by file / package', byGroup);
  print('self time by function', byFn);
}

main();
