/**
 * `npm run bench`: Lifeboat, restic and borg on the same corpora, interleaved row by row, page cache
 * dropped before every measured command. See bench/README.md.
 *
 *   node --import tsx bench/run.ts [--small] [--only lifeboat,restic] [--rows backup,restore,tiny]
 *                                  [--seed 42] [--keep] [--profile] [--timeout MIN] [--wait-lifeboat MIN]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  ensureCorpus,
  largestFile,
  listFiles,
  mutateMixed,
  totalBytes,
  verifyTree,
  type Manifest,
  type MutationSummary,
} from './corpus.ts';
import { dropCaches, KEPT_ENV, measure, treeSize, type Command } from './measure.ts';
import { fmtBytes, markdown, ratio, svg, type Cell, type Results } from './report.ts';
import {
  TOOL_NAMES,
  ensureInstalled,
  lifeboatAtCommit,
  lifeboatEntry,
  lifeboatSettings,
  lifeboatWorks,
  makeTools,
  toolVersion,
  type Tool,
  type ToolName,
} from './tools.ts';

type Step = 'backup1' | 'backup2' | 'backup3' | 'snapshots' | 'restoreAll' | 'restoreFile' | 'check';
type CorpusName = 'mixed' | 'tiny';

interface RowDef {
  id: string;
  corpus: CorpusName;
  step: Step;
  title: string;
}

/** In the order they run. Every row after a corpus's first backup needs that backup. */
const ROWS: RowDef[] = [
  { id: 'backup', corpus: 'mixed', step: 'backup1', title: 'first backup' },
  { id: 'backup-nochange', corpus: 'mixed', step: 'backup2', title: 'second backup, no change' },
  { id: 'backup-changed', corpus: 'mixed', step: 'backup3', title: 'backup after a day of changes' },
  { id: 'snapshots', corpus: 'mixed', step: 'snapshots', title: 'list snapshots' },
  { id: 'restore', corpus: 'mixed', step: 'restoreAll', title: 'full restore' },
  { id: 'restore-largest', corpus: 'mixed', step: 'restoreFile', title: 'restore the largest file' },
  { id: 'check', corpus: 'mixed', step: 'check', title: 'check, reading all data' },
  { id: 'tiny-backup', corpus: 'tiny', step: 'backup1', title: 'tiny files: first backup' },
  { id: 'tiny-backup-nochange', corpus: 'tiny', step: 'backup2', title: 'tiny files: second backup, no change' },
  { id: 'tiny-restore', corpus: 'tiny', step: 'restoreAll', title: 'tiny files: full restore' },
  { id: 'tiny-check', corpus: 'tiny', step: 'check', title: 'tiny files: check, reading all data' },
];

const USAGE = `usage: node --import tsx bench/run.ts [options]
  --small              100 MiB mixed corpus and 10,000 tiny files (quick runs)
  --only TOOLS         comma-separated subset of ${TOOL_NAMES.join(',')}
  --rows ROWS          comma-separated row ids, or "mixed" / "tiny" for a whole corpus:
                       ${ROWS.map((r) => r.id).join(', ')}
                       (rows a selected row needs run first, unmeasured)
  --seed N             corpus seed (default 42)
  --repeat N           run the whole sequence N times (fresh repositories each time) and report the
                       median wall time per cell (default 3)
  --keep               keep repositories, restores and the source copy in the run folder
  --profile            run Lifeboat with --cpu-prof (profiles in the run folder; timings get slower)
  --timeout MIN        kill a command after MIN minutes (default 30)
  --wait-lifeboat MIN  if \`lifeboat --help\` fails, retry every minute for up to MIN minutes
  --lifeboat PATH      Lifeboat entry script (default bin/lifeboat.js of this checkout)
  --lifeboat-commit REV  benchmark a clean, built copy of that git revision (made under bench/work/)
  --mixed-mib N, --tiny-files N   override the corpus sizes
  --out DIR            results folder (default bench/results)`;

function fail(msg: string): never {
  console.error(`bench: ${msg}`);
  process.exit(2);
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}

async function main(): Promise<number> {
  const started = new Date();
  const t0 = performance.now();
  const { values } = parseArgs({
    options: {
      small: { type: 'boolean', default: false },
      only: { type: 'string' },
      rows: { type: 'string' },
      seed: { type: 'string', default: '42' },
      keep: { type: 'boolean', default: false },
      repeat: { type: 'string' },
      profile: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '30' },
      'wait-lifeboat': { type: 'string', default: '0' },
      lifeboat: { type: 'string' },
      'lifeboat-commit': { type: 'string' },
      'mixed-mib': { type: 'string' },
      'tiny-files': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const benchDir = import.meta.dirname;
  const projectDir = resolve(benchDir, '..');
  const seed = Number(values.seed);
  const mixedMiB = Number(values['mixed-mib'] ?? (values.small ? 100 : 1024));
  const tinyFiles = Number(values['tiny-files'] ?? (values.small ? 10_000 : 100_000));
  const timeoutMs = Number(values.timeout) * 60_000;
  const repeat = Number(values.repeat ?? 3);
  if (![seed, mixedMiB, tinyFiles, timeoutMs].every((n) => Number.isFinite(n) && n >= 0) || !(Number.isInteger(repeat) && repeat >= 1)) {
    fail(`bad number in options\n${USAGE}`);
  }

  let toolNames: ToolName[] = [...TOOL_NAMES];
  if (values.only !== undefined) {
    const wanted = values.only.split(',').map((s) => s.trim());
    for (const w of wanted) if (!TOOL_NAMES.includes(w as ToolName)) fail(`unknown tool "${w}" in --only`);
    toolNames = TOOL_NAMES.filter((t) => wanted.includes(t));
  }
  let selected = ROWS;
  if (values.rows !== undefined) {
    const wanted = values.rows.split(',').map((s) => s.trim());
    for (const w of wanted) if (w !== 'mixed' && w !== 'tiny' && !ROWS.some((r) => r.id === w)) fail(`unknown row "${w}" in --rows`);
    selected = ROWS.filter((r) => wanted.includes(r.id) || wanted.includes(r.corpus));
  }
  const selectedIds = new Set(selected.map((r) => r.id));
  // rows that run: the selected ones, plus the first backup of a corpus when anything else of it is selected
  const planned = ROWS.filter((r) => selectedIds.has(r.id) || (r.step === 'backup1' && selected.some((s) => s.corpus === r.corpus)));

  const warnings: string[] = [];
  const failures: string[] = [];
  const warn = (w: string): void => {
    console.warn(`WARNING: ${w}`);
    warnings.push(w);
  };

  // --- page cache policy
  const canDrop = dropCaches();
  const pageCache = canDrop
    ? 'Page cache: dropped before every measured command (`sync; echo 3 > /proc/sys/vm/drop_caches`), so every tool starts cold: source files, repository and its own program files are read from disk.'
    : 'Page cache: NOT dropped (no permission to write /proc/sys/vm/drop_caches); results depend on what earlier commands left cached.';
  if (!canDrop) warn('cannot drop the page cache (run as root for comparable numbers)');
  const environment = `Environment: every command gets only ${KEPT_ENV.map((k) => `\`${k}\``).join(', ')} from the harness (those set), and its own variables (password, \`HOME\` and cache folders in the run folder).`;

  // --- tools
  ensureInstalled({ restic: toolNames.includes('restic'), borg: toolNames.includes('borg') });
  const workDir = join(benchDir, 'work');
  let lbScript = resolve(values.lifeboat ?? join(projectDir, 'bin', 'lifeboat.js'));
  let lbCommit: string | undefined;
  if (values['lifeboat-commit'] !== undefined && toolNames.includes('lifeboat')) {
    ({ script: lbScript, commit: lbCommit } = lifeboatAtCommit(projectDir, values['lifeboat-commit'], workDir));
  }
  const lb = lifeboatEntry(lbScript, lbCommit);
  if (toolNames.includes('lifeboat')) {
    const waitMin = Number(values['wait-lifeboat']);
    let works = lifeboatWorks(lbScript);
    for (let i = 0; !works && i < waitMin; i++) {
      console.log(`lifeboat --help does not work yet; retrying in a minute (${i + 1}/${waitMin})`);
      await new Promise((r) => setTimeout(r, 60_000));
      works = lifeboatWorks(lbScript);
    }
    if (!works) {
      warn(`\`node ${lbScript} --help\` fails: Lifeboat left out of this run`);
      toolNames = toolNames.filter((t) => t !== 'lifeboat');
    } else if (lb.staleDist !== undefined) {
      warn(lb.staleDist);
    }
  }
  if (toolNames.length === 0) fail('no tool to run');

  const runDir = join(workDir, `run-${stamp(started)}${String(started.getSeconds()).padStart(2, '0')}${values.small ? '-small' : ''}`);
  rmSync(runDir, { recursive: true, force: true });
  const logDir = join(runDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const toolsFor = (rep: number): Record<ToolName, Tool> => makeTools(join(runDir, 'home', `r${rep}`), lb);

  const results: Results = {
    schema: 1,
    date: started.toISOString(),
    command: `node --import tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
    durationS: 0,
    pageCache,
    environment,
    machine: {
      cpu: `${cpus()[0]?.model ?? '?'} × ${cpus().length}`,
      memory: `${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
      kernel: release(),
      node: process.version,
      filesystem: spawnSync('findmnt', ['-no', 'FSTYPE', '-T', workDir], { encoding: 'utf8' }).stdout.trim() || '?',
    },
    tools: {},
    corpora: {},
    rows: [],
    failures,
    warnings,
  };
  const settings: Record<ToolName, string> = {
    lifeboat: await lifeboatSettings(lbScript),
    restic: toolsFor(0).restic.settings,
    borg: toolsFor(0).borg.settings,
  };
  for (const t of toolNames) {
    results.tools[t] = { version: toolVersion(t, lb), settings: settings[t] };
    console.log(`${t}: ${results.tools[t]?.version}`);
  }
  if (values.profile) warn('Lifeboat ran with --cpu-prof: its times include profiling overhead');

  // --- corpora
  const cacheRoot = join(workDir, 'corpus');
  const corpusOf: Partial<Record<CorpusName, { source: string; tree: string; manifest: Manifest }>> = {};
  for (const name of ['mixed', 'tiny'] as const) {
    if (!planned.some((r) => r.corpus === name)) continue;
    process.stdout.write(`corpus ${name}: `);
    const c = ensureCorpus(cacheRoot, name, name === 'mixed' ? mixedMiB : tinyFiles, seed);
    const files = Object.keys(c.manifest).length;
    const bytes = totalBytes(c.manifest);
    console.log(`${files} files, ${fmtBytes(bytes)} ${c.fromCache ? '(cached)' : `(generated in ${c.generatedS.toFixed(1)} s)`}`);
    // the mixed tree gets changed: each repetition backs up a fresh copy, the cached one stays pristine
    const source = name === 'mixed' ? join(runDir, 'src', 'mixed') : c.tree;
    corpusOf[name] = { source, tree: c.tree, manifest: c.manifest };
    results.corpora[name] = {
      summary: `${files.toLocaleString('en')} files, ${fmtBytes(bytes)}, seed ${seed}` + (name === 'mixed' ? `, backed up from a copy at ${source}` : `, at ${source}`),
      files,
      bytes,
      seed,
      cache: c.dir,
      generatedS: c.generatedS,
    };
  }

  // --- the rows, `repeat` times over, each repetition with fresh repositories, caches and source copy
  let anyWrong = false;
  let rowIndex = 0;
  const all = new Map<string, { row: RowDef; orders: ToolName[][]; runs: Partial<Record<ToolName, Cell[]>>; detail: string }>();
  for (let rep = 1; rep <= repeat; rep++) {
    if (repeat > 1) console.log(`\n--- repetition ${rep} of ${repeat}`);
    const tools = toolsFor(rep);
    for (const corpus of ['mixed', 'tiny'] as const) {
      const rows = planned.filter((r) => r.corpus === corpus);
      const c = corpusOf[corpus];
      if (rows.length === 0 || c === undefined) continue;
      if (c.source !== c.tree) {
        rmSync(c.source, { recursive: true, force: true });
        mkdirSync(dirname(c.source), { recursive: true });
        execFileSync('cp', ['-a', c.tree, c.source]);
      }
      let current = c.manifest;
      const state = new Map<ToolName, StepState>();
      for (const t of toolNames) {
        const repo = join(runDir, 'repos', `${t}-${corpus}-r${rep}`);
        mkdirSync(join(runDir, 'repos'), { recursive: true });
        const m = await measure(tools[t].init(repo), join(logDir, `${corpus}-init-${t}-r${rep}.log`), timeoutMs);
        const ready = m.exitCode === 0;
        if (!ready) {
          failures.push(`${t}: init of the ${corpus} repository failed (exit ${m.exitCode}), see ${m.log}`);
          console.error(`${t}: init failed, see ${m.log}`);
        }
        state.set(t, { repo, ready, backups: 0 });
      }

      for (const row of rows) {
        const measured = selectedIds.has(row.id);
        if (row.step === 'backup3') {
          const r = mutateMixed(c.source, current, seed);
          current = r.manifest;
          const s: MutationSummary = r.summary;
          if (rep === 1) {
            console.log(
              `mutation: ${s.rewritten} files rewritten, ${s.deleted} deleted, ${s.grown} logs grown, ${s.added} added, ` +
                `${s.dbPagesRewritten} database pages rewritten (${fmtBytes(s.bytesWritten)} written)`,
            );
          }
          Object.assign(results.corpora[corpus] as object, {
            mutation: s,
            afterMutation: { files: Object.keys(current).length, bytes: totalBytes(current) },
          });
        }
        const order = toolNames.map((_, i) => toolNames[(i + rowIndex) % toolNames.length] as ToolName);
        rowIndex++;
        const entry = all.get(row.id) ?? { row, orders: [], runs: {}, detail: '' };
        all.set(row.id, entry);
        entry.orders.push(order);
        entry.detail = detail(row, current);
        const cells: Partial<Record<ToolName, Cell>> = {};
        for (const t of order) {
          const st = state.get(t);
          if (st === undefined) continue;
          const cell = await runStep({
            tool: tools[t],
            row,
            st,
            source: c.source,
            current,
            runDir,
            log: join(logDir, `${row.id}-${t}-r${rep}.log`),
            drop: measured && canDrop,
            timeoutMs,
            keep: values.keep,
            profileDir: values.profile && t === 'lifeboat' ? join(runDir, 'profiles', row.id) : undefined,
          });
          cells[t] = cell;
          (entry.runs[t] ??= []).push(cell);
          const where = `${t}: ${row.id} (${row.title})${repeat > 1 ? `, repetition ${rep}` : ''}`;
          if (cell.status === 'wrong-data') {
            anyWrong = true;
            failures.push(`${where}: RESTORED DATA DIFFERS FROM THE SOURCE: ${cell.problems?.slice(0, 5).join('; ')}`);
          } else if (cell.status === 'error') {
            failures.push(`${where}: ${cell.note ?? 'failed'}`);
          }
          console.log(
            `${measured ? '' : '(setup) '}${row.title.padEnd(36)} ${t.padEnd(8)} ` +
              (cell.status === 'ok'
                ? `${cell.wallS?.toFixed(2).padStart(7)} s  cpu ${cell.cpuS?.toFixed(1).padStart(6)} s  rss ${cell.maxRssMiB?.toFixed(0).padStart(5)} MiB` +
                  (cell.repoBytes !== undefined ? `  repo ${fmtBytes(cell.repoBytes)}` : '') +
                  (cell.addedBytes !== undefined ? ` (+${fmtBytes(cell.addedBytes)})` : '')
                : `${cell.status.toUpperCase()}: ${cell.note ?? ''} ${cell.problems?.slice(0, 3).join('; ') ?? ''}`),
          );
        }
        const q = ratio({ id: row.id, title: row.title, corpus, detail: '', order, cells });
        if (measured && q !== undefined) console.log(`  → lifeboat / ${q.peer}: ${q.ratio.toFixed(2)}×`);
      }
      if (!values.keep) rmSync(join(runDir, 'repos'), { recursive: true, force: true });
    }
  }
  for (const row of planned) {
    const e = all.get(row.id);
    if (e === undefined || !selectedIds.has(row.id)) continue;
    const cells: Partial<Record<ToolName, Cell>> = {};
    for (const t of toolNames) {
      const runs = e.runs[t];
      if (runs !== undefined) cells[t] = combine(runs);
    }
    results.rows.push({ id: row.id, title: row.title, corpus: row.corpus, detail: e.detail, order: e.orders[0] ?? [], orders: e.orders, cells, runs: e.runs });
  }

  // --- results
  results.durationS = (performance.now() - t0) / 1000;
  const outDir = resolve(values.out ?? join(benchDir, 'results'));
  mkdirSync(outDir, { recursive: true });
  const base = `${stamp(started)}${values.small ? '-small' : ''}`;
  writeFileSync(join(outDir, `${base}.json`), JSON.stringify(results, null, 2) + '\n');
  const md = markdown(results, `${base}.svg`);
  writeFileSync(join(outDir, `${base}.md`), md + '\n');
  writeFileSync(join(outDir, `${base}.svg`), svg(results));
  copyFileSync(join(outDir, `${base}.md`), join(outDir, 'latest.md'));
  console.log('');
  console.log(md);
  console.log(`\nresults: ${join(outDir, base)}.{json,md,svg} (and latest.md); logs: ${logDir}`);

  // --- clean up: big data goes, logs and the corpus cache stay
  if (!values.keep) {
    for (const d of ['src', 'repos', 'restore', 'home']) rmSync(join(runDir, d), { recursive: true, force: true });
  } else {
    console.log(`kept: ${runDir}`);
  }
  if (failures.length > 0) {
    console.error(`\n${anyWrong ? 'RESTORED DATA WAS WRONG. ' : ''}${failures.length} failure(s):`);
    for (const f of failures) console.error(`  - ${f}`);
    return 1;
  }
  return 0;
}

function detail(row: RowDef, m: Manifest): string {
  const files = Object.keys(m).length;
  const size = fmtBytes(totalBytes(m));
  switch (row.step) {
    case 'restoreFile': {
      const f = largestFile(m);
      return `${f} (${fmtBytes(m[f]?.size)})`;
    }
    case 'check':
      return `repository after ${row.corpus === 'mixed' ? '3 backups' : '2 backups'}`;
    case 'snapshots':
      return 'open the repository, print 3 snapshots: fixed cost of a command';
    default:
      return `${files.toLocaleString('en')} files, ${size}`;
  }
}

/**
 * One cell from its repetitions: a failure if any repetition failed (wrong data first), otherwise the
 * repetition with the median wall time, carrying every repetition's wall time.
 */
function combine(runs: Cell[]): Cell {
  const walls = runs.map((c) => c.wallS ?? NaN);
  const bad = runs.find((c) => c.status === 'wrong-data') ?? runs.find((c) => c.status === 'error') ?? runs.find((c) => c.status === 'skipped');
  if (bad !== undefined) return { ...bad, wallRuns: walls };
  const sorted = [...runs].sort((x, y) => (x.wallS ?? 0) - (y.wallS ?? 0));
  const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? bad ?? { status: 'skipped' };
  return { ...median, wallRuns: walls };
}

interface StepState {
  repo: string;
  ready: boolean;
  archive?: string;
  manifest?: Manifest;
  backups: number;
}

interface StepArgs {
  tool: Tool;
  row: RowDef;
  st: StepState;
  source: string;
  current: Manifest;
  runDir: string;
  log: string;
  drop: boolean;
  timeoutMs: number;
  keep: boolean;
  profileDir: string | undefined;
}

async function runStep(a: StepArgs): Promise<Cell> {
  const { tool, row, st } = a;
  if (!st.ready) return { status: 'skipped', note: 'repository init failed' };
  const isBackup = row.step.startsWith('backup');
  if (!isBackup && st.archive === undefined) return { status: 'skipped', note: 'no snapshot to read' };
  const run = async (cmd: Command): Promise<Cell> => {
    if (a.profileDir !== undefined) {
      mkdirSync(a.profileDir, { recursive: true });
      // Node 20 refuses --cpu-prof in NODE_OPTIONS: put it before the script (worker threads inherit it)
      cmd = { ...cmd, args: ['--cpu-prof', `--cpu-prof-dir=${a.profileDir}`, ...cmd.args] };
    }
    const m = await measure(cmd, a.log, a.timeoutMs, a.drop ? () => dropCaches() : undefined);
    let status: Cell['status'] = 'ok';
    let note: string | undefined;
    if (m.timedOut) {
      status = 'error';
      note = `killed after ${a.timeoutMs / 60_000} min`;
    } else if (m.exitCode === 1 && tool.name === 'borg') {
      note = 'borg warning (exit 1), see log';
    } else if (m.exitCode !== 0) {
      status = 'error';
      note = `exit ${m.exitCode}: ${lastLine(m.log)} (log ${m.log})`;
    }
    return { ...m, status, ...(note !== undefined ? { note } : {}) };
  };

  if (isBackup) {
    const before = treeSize(st.repo).bytes;
    const archive = `${row.corpus}-${st.backups + 1}`;
    const cell = await run(tool.backup(st.repo, a.source, archive));
    cell.repoBytes = treeSize(st.repo).bytes;
    cell.addedBytes = cell.repoBytes - before;
    cell.cacheBytes = treeSize(tool.cacheDir).bytes;
    if (cell.status === 'ok') {
      st.backups++;
      st.archive = archive;
      st.manifest = a.current;
    }
    return cell;
  }
  const archive = st.archive ?? 'latest';
  const expected = st.manifest ?? a.current;
  switch (row.step) {
    case 'restoreAll':
    case 'restoreFile': {
      const target = join(a.runDir, 'restore', `${row.id}-${tool.name}`);
      rmSync(target, { recursive: true, force: true });
      mkdirSync(target, { recursive: true });
      let want: Manifest = expected;
      let cmd: Command;
      if (row.step === 'restoreAll') {
        cmd = tool.restoreAll(st.repo, target, archive);
      } else {
        const rel = largestFile(expected);
        const entry = expected[rel];
        want = entry === undefined ? {} : { [rel]: entry };
        cmd = tool.restoreFile(st.repo, target, archive, join(a.source, rel));
      }
      const cell = await run(cmd);
      if (cell.timedOut !== true) {
        // verify even after an error exit: the log then says which files were wrong
        const restoredRoot = join(target, a.source);
        const problems = verifyTree(restoredRoot, want);
        if (row.step === 'restoreFile' && existsSync(target)) {
          const all = listFiles(target);
          if (all.length > 1) problems.push(`restored ${all.length} files instead of 1 (e.g. ${all.slice(0, 3).join(', ')})`);
        }
        if (problems.length > 0 && cell.status === 'ok') {
          cell.status = 'wrong-data';
          cell.problems = problems;
          console.error(`\n!!! ${tool.name} ${row.corpus} ${row.title}: RESTORED DATA DIFFERS FROM THE SOURCE\n  ${problems.join('\n  ')}\n`);
        } else if (problems.length > 0) {
          cell.problems = problems;
        }
      }
      if (!a.keep) rmSync(target, { recursive: true, force: true });
      return cell;
    }
    case 'snapshots':
      return run(tool.snapshots(st.repo));
    case 'check': {
      const cell = await run(tool.check(st.repo));
      cell.repoBytes = treeSize(st.repo).bytes;
      return cell;
    }
    default:
      throw new Error(`unreachable step ${row.step}`);
  }
}

function lastLine(log: string): string {
  try {
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    return (lines[lines.length - 1] ?? '').slice(0, 200);
  } catch {
    return '';
  }
}

process.exitCode = await main();
