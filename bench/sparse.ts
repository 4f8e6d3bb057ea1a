/**
 * `node --import tsx bench/sparse.ts [--size-gib 10] [--repeat 3]`: a sparse file (a VM disk image that
 * holds little) backed up and restored by Lifeboat, restic and borg, in turn, page cache dropped before
 * every measured command. borg restores with its sparse option (--sparse); restic 0.14, Debian's, has
 * none (0.15 added one); Lifeboat writes holes by default. Every restore is checked byte for byte. Writes
 * bench/results/sparse-<date>.md and .json.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { dropCaches, measure, type Command, type Measurement } from './measure.ts';
import { ensureInstalled, lifeboatEntry, makeTools, toolVersion, TOOL_NAMES, type ToolName } from './tools.ts';

const { values: o } = parseArgs({ options: { 'size-gib': { type: 'string', default: '10' }, repeat: { type: 'string', default: '3' } } });
const sizeGiB = Number(o['size-gib']);
const repeat = Number(o.repeat);
const project = resolve(import.meta.dirname, '..');
const work = join(project, 'bench', 'work', 'sparse');
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'src'), { recursive: true });
ensureInstalled({ restic: true, borg: true });

// The image: 1 MiB of data at the start, in the middle and at the end; the rest holes.
const image = join(work, 'src', 'disk.img');
const size = sizeGiB * 2 ** 30;
const fd = openSync(image, 'w');
for (const at of [0, Math.floor(size / 2), size - 2 ** 20]) writeSync(fd, randomBytes(2 ** 20), 0, 2 ** 20, at);
ftruncateSync(fd, size);
closeSync(fd);
const imageBlocks = statSync(image).blocks * 512;

const lifeboat = lifeboatEntry(join(project, 'bin', 'lifeboat.js'));
const tools = makeTools(join(work, 'home'), lifeboat);
const restoreCmd = (name: ToolName, repo: string, target: string): Command => {
  const c = tools[name].restoreAll(repo, target, 'a1');
  if (name === 'borg') return { ...c, args: [...c.args, '--sparse'] };
  return c;
};

type Row = { tool: ToolName; backup: Measurement[]; restore: Measurement[]; restoredBlocks: number; identical: boolean };
const rows: Row[] = [];
for (const name of TOOL_NAMES) rows.push({ tool: name, backup: [], restore: [], restoredBlocks: 0, identical: true });
const run = async (c: Command, log: string): Promise<Measurement> => {
  const m = await measure(c, log, 30 * 60_000, () => void dropCaches());
  if (m.exitCode !== 0) throw new Error(`${log}: exit ${m.exitCode}; see the log`);
  return m;
};
for (let r = 0; r < repeat; r++) {
  // In turn, so that write-back of one tool's run does not fall on the next one's.
  for (const row of rows) {
    const repo = join(work, `repo-${row.tool}-${r}`);
    const target = join(work, `restore-${row.tool}-${r}`);
    mkdirSync(target, { recursive: true });
    await run(tools[row.tool].init(repo), join(work, `${row.tool}-${r}-init.log`));
    row.backup.push(await run(tools[row.tool].backup(repo, join(work, 'src'), 'a1'), join(work, `${row.tool}-${r}-backup.log`)));
    row.restore.push(await run(restoreCmd(row.tool, repo, target), join(work, `${row.tool}-${r}-restore.log`)));
    const restored = join(target, image);
    row.restoredBlocks = statSync(restored).blocks * 512;
    try {
      execFileSync('cmp', [image, restored]);
    } catch {
      row.identical = false;
    }
    rmSync(repo, { recursive: true, force: true });
    rmSync(target, { recursive: true, force: true });
  }
}

const median = (ms: Measurement[], f: (m: Measurement) => number): number => {
  const v = ms.map(f).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
};
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
const stamp = new Date().toISOString().slice(0, 16).replace('T', '-').replace(':', '');
const lines = [
  `# Sparse file: ${sizeGiB} GiB holding 3 MiB (${stamp})`,
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; page cache dropped before every command; median of ${repeat}, the tools in turn.`,
  `The image: ${mib(imageBlocks)} allocated. Versions: ${TOOL_NAMES.map((t) => toolVersion(t, lifeboat)).join('; ')}.`,
  'Restores: borg `--sparse`, Lifeboat by default, restic 0.14 has no sparse restore. Every restore compared byte for byte with the image.',
  '',
  '| tool | backup | backup CPU | backup peak RSS | restore | restored file allocates | identical |',
  '|---|---:|---:|---:|---:|---:|---|',
  ...rows.map(
    (r) =>
      `| ${r.tool} | ${median(r.backup, (m) => m.wallS).toFixed(2)} s | ${median(r.backup, (m) => m.cpuS).toFixed(2)} s | ${median(r.backup, (m) => m.maxRssMiB).toFixed(0)} MiB | ${median(r.restore, (m) => m.wallS).toFixed(2)} s | ${mib(r.restoredBlocks)} | ${r.identical ? 'yes' : '**no**'} |`,
  ),
  '',
];
const out = join(project, 'bench', 'results', `sparse-${stamp}`);
writeFileSync(`${out}.md`, lines.join('\n'));
writeFileSync(`${out}.json`, JSON.stringify({ sizeGiB, repeat, rows }, null, 1));
console.log(lines.join('\n'));
rmSync(work, { recursive: true, force: true });
