/**
 * The three tools under test, as command builders. Each tool gets its own repository per corpus and its
 * own home/cache folder below the run folder, so nothing leaks between tools or runs.
 *
 * Settings (chosen to be comparable, stated in the results):
 *   lifeboat  its defaults (src/core/defaults.ts, read at run time): FastCDC, zstd level 3, AES-256-GCM
 *   restic    repository version 2, compression auto (zstd via klauspost "default" speed ≈ level 3),
 *             chunker avg 1 MiB, AES-256-CTR + Poly1305, SHA-256 ids
 *   borg      `-e repokey` (AES-256-CTR + HMAC-SHA256: faster than repokey-blake2 on this CPU, which has
 *             SHA extensions), `--compression zstd,3`, default buzhash chunker (avg 2 MiB)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from './measure.ts';

export type ToolName = 'lifeboat' | 'restic' | 'borg';
export const TOOL_NAMES: readonly ToolName[] = ['lifeboat', 'restic', 'borg'];

export const PASSWORD = 'bench-password-not-secret';

export interface Tool {
  name: ToolName;
  /** Settings that matter for comparison, for the results file. */
  settings: string;
  /** Client-side cache folder (outside the repository), measured separately. */
  cacheDir: string;
  init(repo: string): Command;
  /** `archive` is the name borg needs; the others use "latest". */
  backup(repo: string, source: string, archive: string): Command;
  restoreAll(repo: string, target: string, archive: string): Command;
  /** Restores one file (absolute path as backed up) from the archive into target. */
  restoreFile(repo: string, target: string, archive: string, absPath: string): Command;
  check(repo: string): Command;
  /** List the snapshots as JSON: opening the repository is most of it. */
  snapshots(repo: string): Command;
}

export interface LifeboatEntry {
  /** What runs: node + the entry script. */
  script: string;
  /** "dist" when bin/lifeboat.js will load the built dist/ entry, "tsx" when it compiles on the fly. */
  mode: string;
  /** Set when dist/ exists but is older than some source file. */
  staleDist?: string;
  /** Set when the entry is a clean copy of a commit (--lifeboat-commit). */
  commit?: string;
}

export function makeTools(home: string, lifeboat: LifeboatEntry): Record<ToolName, Tool> {
  const dir = (name: string): string => {
    const d = join(home, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const lbHome = dir('lifeboat');
  const lbEnv = { LIFEBOAT_PASSWORD: PASSWORD, HOME: lbHome, XDG_CACHE_HOME: join(lbHome, '.cache') };
  const lb = (repo: string, args: string[], cwd?: string): Command => ({
    file: process.execPath,
    args: [lifeboat.script, '-r', repo, '--no-progress', ...args],
    env: lbEnv,
    ...(cwd !== undefined ? { cwd } : {}),
  });

  const resticHome = dir('restic');
  const resticEnv = { RESTIC_PASSWORD: PASSWORD, HOME: resticHome, RESTIC_CACHE_DIR: join(resticHome, 'cache') };
  const restic = (repo: string, args: string[]): Command => ({ file: 'restic', args: ['-r', repo, ...args], env: resticEnv });

  const borgHome = dir('borg');
  const borgEnv = {
    BORG_PASSPHRASE: PASSWORD,
    HOME: borgHome,
    BORG_BASE_DIR: borgHome,
    BORG_DISPLAY_PASSPHRASE: 'no',
    BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
  };
  const borg = (args: string[], cwd?: string): Command => ({
    file: 'borg',
    args,
    env: borgEnv,
    ...(cwd !== undefined ? { cwd } : {}),
  });

  return {
    lifeboat: {
      name: 'lifeboat',
      settings: 'defaults (see src/core/defaults.ts)',
      cacheDir: lbHome,
      init: (repo) => lb(repo, ['init']),
      backup: (repo, source) => lb(repo, ['backup', source]),
      restoreAll: (repo, target) => lb(repo, ['restore', 'latest', '--target', target]),
      restoreFile: (repo, target, _archive, abs) => lb(repo, ['restore', 'latest', '--target', target, '--include', abs]),
      check: (repo) => lb(repo, ['check', '--read-data']),
      snapshots: (repo) => lb(repo, ['snapshots', '--json']),
    },
    restic: {
      name: 'restic',
      settings: 'repository version 2, compression auto (zstd ≈ level 3)',
      cacheDir: resticHome,
      init: (repo) => restic(repo, ['init', '--repository-version', '2']),
      backup: (repo, source) => restic(repo, ['backup', source]),
      restoreAll: (repo, target) => restic(repo, ['restore', 'latest', '--target', target]),
      restoreFile: (repo, target, _archive, abs) => restic(repo, ['restore', 'latest', '--target', target, '--include', abs]),
      check: (repo) => restic(repo, ['check', '--read-data']),
      snapshots: (repo) => restic(repo, ['snapshots', '--json']),
    },
    borg: {
      name: 'borg',
      settings: 'repokey (AES-CTR + HMAC-SHA256), --compression zstd,3, default chunker',
      cacheDir: borgHome,
      init: (repo) => borg(['init', '-e', 'repokey', repo]),
      backup: (repo, source, archive) => borg(['create', '--compression', 'zstd,3', `${repo}::${archive}`, source]),
      // borg extracts into the current folder, paths without the leading "/"
      restoreAll: (repo, target, archive) => borg(['extract', `${repo}::${archive}`], target),
      restoreFile: (repo, target, archive, abs) => borg(['extract', `${repo}::${archive}`, abs.replace(/^\/+/, '')], target),
      check: (repo) => borg(['check', '--verify-data', repo]),
      snapshots: (repo) => borg(['list', '--json', repo]),
    },
  };
}

function run(file: string, args: string[]): string {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
  return `${r.stdout}${r.stderr}`.trim();
}

function have(file: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${file}`]).status === 0;
}

/** Installs restic, borgbackup and GNU time from Debian when missing. */
export function ensureInstalled(need: { restic: boolean; borg: boolean }): void {
  const missing: string[] = [];
  if (need.restic && !have('restic')) missing.push('restic');
  if (need.borg && !have('borg')) missing.push('borgbackup');
  if (!existsSync('/usr/bin/time')) missing.push('time');
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(', ')} from Debian…`);
  const install = (): boolean =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  if (!install()) {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    if (!install()) throw new Error(`apt-get install ${missing.join(' ')} failed`);
  }
}

export function toolVersion(name: ToolName, lifeboat: LifeboatEntry): string {
  switch (name) {
    case 'restic':
      return run('restic', ['version']);
    case 'borg':
      return run('borg', ['--version']);
    case 'lifeboat': {
      let v = run(process.execPath, [lifeboat.script, '--version']);
      if (lifeboat.commit !== undefined) return `${v} (git ${lifeboat.commit}, clean copy; ${lifeboat.mode})`;
      try {
        const root = join(lifeboat.script, '..', '..');
        const commit = run('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
        const dirty = run('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no']).length > 0;
        v += ` (git ${commit}${dirty ? ' + uncommitted changes' : ''}; ${lifeboat.mode})`;
      } catch {
        // not a git checkout
      }
      return v;
    }
  }
}

/** The built entry of a checkout: dist/main.js (the bundle, since 2026-11-30) or dist/cli/main.js (tsc, before). */
function builtEntry(root: string): string {
  const bundle = join(root, 'dist', 'main.js');
  return existsSync(bundle) ? bundle : join(root, 'dist', 'cli', 'main.js');
}

/**
 * How bin/lifeboat.js will run: the built dist/ entry when it is at least as new as every file in src/,
 * otherwise the sources through tsx (which adds compile time to every command).
 */
export function lifeboatEntry(script: string, commit?: string): LifeboatEntry {
  const root = join(script, '..', '..');
  const built = builtEntry(root);
  const base = commit !== undefined ? { script, commit } : { script };
  if (!existsSync(built)) return { ...base, mode: 'tsx: no build, compiled on the fly from src/' };
  const builtAt = statSync(built).mtimeMs;
  let newest = '';
  let newestAt = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const t = statSync(p).mtimeMs;
        if (t > newestAt) {
          newestAt = t;
          newest = p;
        }
      }
    }
  };
  if (existsSync(join(root, 'src'))) walk(join(root, 'src'));
  if (newestAt > builtAt) {
    return {
      ...base,
      mode: 'tsx: dist/ older than src/, compiled on the fly',
      staleDist: `${newest} is newer than ${built}, so bin/lifeboat.js compiles the sources with tsx on every command: run \`npm run build\` first`,
    };
  }
  return { ...base, mode: 'dist (compiled)' };
}

/**
 * A clean copy of the project at a git revision, built, in the work folder (reused when already there):
 * benchmarks one commit while the working tree keeps changing. Returns the entry script.
 */
export function lifeboatAtCommit(projectDir: string, rev: string, workDir: string): { script: string; commit: string } {
  const commit = run('git', ['-C', projectDir, 'rev-parse', '--short=10', `${rev}^{commit}`]);
  const dir = join(workDir, `lifeboat-${commit}`);
  const script = join(dir, 'bin', 'lifeboat.js');
  if (!existsSync(builtEntry(dir))) {
    console.log(`building Lifeboat ${commit} in ${dir}…`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git -C "$0" archive "$1" | tar -x -C "$2"`, projectDir, commit, dir], { stdio: 'inherit' });
    symlinkSync(join(projectDir, 'node_modules'), join(dir, 'node_modules'));
    // Its native part, built from its own sources (npm's install script runs node-gyp with npm's settings).
    if (existsSync(join(dir, 'native', 'binding.gyp'))) execFileSync('npm', ['run', '--silent', 'install'], { cwd: dir, stdio: 'inherit' });
    // Its own build: the bundler script where the commit has one, tsc before that.
    const bundler = join(dir, 'scripts', 'build.mjs');
    const build = existsSync(bundler) ? [bundler] : [join(projectDir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.build.json')];
    execFileSync(process.execPath, build, { stdio: 'inherit' });
  }
  return { script, commit };
}

/** Whether `lifeboat --help` works (the CLI may not exist yet). */
export function lifeboatWorks(script: string): boolean {
  return spawnSync(process.execPath, [script, '--help'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
}

/** Lifeboat's chunking and compression defaults, read from the checkout that runs. */
export async function lifeboatSettings(script: string): Promise<string> {
  try {
    const url = pathToFileURL(join(script, '..', '..', 'src', 'core', 'defaults.ts')).href;
    const d = ((await import(url)) as { defaults?: Record<string, unknown> }).defaults ?? {};
    const kib = (v: unknown): string => (typeof v === 'number' ? `${v / 1024} KiB` : '?');
    return (
      `defaults: FastCDC avg ${kib(d.chunkAvg)} (min ${kib(d.chunkMin)}, max ${kib(d.chunkMax)}), ` +
      `zstd level ${String(d.zstdLevel)}, packs ${kib(d.packSize)}, AES-256-GCM`
    );
  } catch {
    return 'defaults (src/core/defaults.ts not readable)';
  }
}
