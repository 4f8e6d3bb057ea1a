#!/usr/bin/env node
// The `lifeboat` command. Runs the built CLI, dist/main.js (bundled by `npm install` / `npm run build`).
// In a source checkout whose src/ is newer than the build, it runs the TypeScript through tsx instead,
// so a stale build never runs by mistake.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Ctrl-C or SIGTERM while the program loads: nothing is held yet, so leave with the documented status
// (130) rather than the shell's 128 + signal. main.ts replaces these with handlers that stop cleanly.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
// A reload (SIGHUP) while the daemon loads is kept for it (Node's default would end the process).
if (process.argv.includes('daemon')) process.on('SIGHUP', () => (process[Symbol.for('lifeboat.sighup')] = true));

const built = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const src = fileURLToPath(new URL('../src', import.meta.url));

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue;
    const m = statSync(`${e.parentPath ?? e.path}/${e.name}`).mtimeMs;
    if (m > newest) newest = m;
  }
  return newest;
}

const useBuilt = existsSync(built) && (!existsSync(src) || newestMtime(src) <= statSync(built).mtimeMs);
if (useBuilt) {
  await import(new URL('../dist/main.js', import.meta.url).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
