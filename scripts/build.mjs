#!/usr/bin/env node
/**
 * Builds the `lifeboat` command: src/ bundled by esbuild into dist/ (or the folder given as the first
 * argument): the CLI (`main.js`, with the chunks it loads later) and one file per worker thread.
 *
 * Why a bundle and not tsc's one .js per module: a command's start-up is paid on every run, and the
 * per-module cost of Node's ESM loader (resolve, read, compile, link ~110 modules, ~130 from a cold page
 * cache) was 50-60 ms of CPU on the main thread and again in every worker (bench machine, 2026-11-30:
 * `--version` 145-170 -> 92-102 ms warm). Type checking is `npm run typecheck` (and `npm test`).
 *
 * Layout the code relies on: the entries sit side by side under their plain names (`main.js`,
 * `restore-worker.js`, ...), so `siblingModule(import.meta.url, 'restore-worker')` from any of them finds
 * the worker; package.json says `"sideEffects": false` (no module of ours acts on being imported).
 * Packages with native parts (zstd-napi, fs-xattr, better-sqlite3) and tsx stay in node_modules, found
 * from the output folder by Node's usual lookup (so the output must sit inside the project, or inside the
 * installed package).
 */
import { build } from 'esbuild';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const outdir = resolve(process.argv[2] ?? `${root}/dist`);
/** `dir` is `parent` or inside it. */
const inside = (dir, parent) => {
  const rel = relative(parent, dir);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};
if (inside(root, outdir) || inside(outdir, resolve(root, 'src')) || inside(outdir, resolve(root, 'node_modules'))) {
  console.error(`build: refusing to write into ${outdir} (the project, src/ or node_modules/ would be replaced)`);
  process.exit(2);
}

// Built beside the target and swapped in whole at the end: an interrupted or failed build leaves the
// previous build as it was, never a main.js without its workers.
const staging = `${outdir}.building-${process.pid}`;
rmSync(staging, { recursive: true, force: true });
const common = {
  absWorkingDir: root,
  outdir: staging,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  external: ['zstd-napi', 'zstd-napi/*', 'better-sqlite3', '@parcel/watcher', 'tsx', 'tsx/*'],
  // The CommonJS packages bundled in (commander, picomatch, ...) call require() for Node's own modules.
  banner: { js: "import { createRequire as __lifeboatRequire } from 'node:module'; const require = __lifeboatRequire(import.meta.url);" },
  logLevel: 'warning',
};
try {
  // The CLI: split at its dynamic imports (the commands load after the key derivation has started, SQLite
  // only when used).
  await build({ ...common, entryPoints: { main: 'src/cli/main.ts' }, splitting: true, chunkNames: 'shared-[hash]' });
  // Each worker alone: sharing chunks with main.js, a worker loaded code only main.js uses (child_process,
  // net, readline, the whole repository layer: 86 of Node's internal modules instead of 69, 36-50 -> 28-31
  // ms per worker warm, 2026-11-30); built alone, with "sideEffects": false, it holds what it uses.
  await build({
    ...common,
    entryPoints: {
      'verify-worker': 'src/repo/verify-worker.ts',
      'chunk-worker': 'src/sources/files/chunk-worker.ts',
      'prefetch-worker': 'src/sources/files/prefetch-worker.ts',
      'restore-worker': 'src/sources/files/restore-worker.ts',
    },
  });
} catch (err) {
  rmSync(staging, { recursive: true, force: true });
  throw err;
}
const old = `${outdir}.old-${process.pid}`;
if (existsSync(outdir)) renameSync(outdir, old);
renameSync(staging, outdir);
rmSync(old, { recursive: true, force: true });
