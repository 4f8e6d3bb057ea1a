/**
 * Runs the real `lifeboat` command as a child process (the TypeScript source through tsx, so a stale
 * dist/ build is never what gets tested) and collects what it printed and its exit status.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export const PASSWORD = 'correct horse battery staple';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as bytes, for `dump`. */
  raw: Buffer;
}

export interface CliOptions {
  /** Variables to set (undefined removes one). LIFEBOAT_* from the test's own environment never leak in. */
  env?: Record<string, string | undefined>;
  /** Run as this uid/gid (through setpriv; the test must run as root). For tests that need permissions to bite. */
  asUser?: number;
  /** Run this built entry (a bundle's main.js) on a plain node instead of the sources through tsx. */
  entry?: string;
}

export async function lifeboat(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('LIFEBOAT_')) env[k] = v;
  env.LIFEBOAT_PASSWORD = PASSWORD;
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  // cwd is the project root so `--import tsx` resolves; stdin is not a terminal, so nothing prompts.
  const argv = opts.entry !== undefined ? [process.execPath, opts.entry, ...args] : [process.execPath, '--import', 'tsx', main, ...args];
  if (opts.asUser !== undefined) argv.unshift('setpriv', `--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, '--clear-groups');
  const child = spawn(argv[0]!, argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const raw = Buffer.concat(out);
  return { code, stdout: raw.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), raw };
}

/** Parses JSON lines (one document per line). */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A readable account of a run for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
