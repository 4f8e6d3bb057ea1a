/**
 * Key derivation started before the program loads. Opening a repository costs one key derivation (0.3 s
 * here, src/repo/kdf.ts) after ~0.3 s of loading modules; here the password and the key files
 * are found with a cheap look at the arguments and the environment, and scrypt starts on the thread pool
 * while the rest loads. Only password sources without side effects are used (a file, LIFEBOAT_PASSWORD;
 * never a command or a prompt), and only when they are the ones the command itself will use. Anything
 * unexpected: nothing is started, and the command derives as usual.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// The one module imported past an index: kdf.ts is the repository's light entry (node:crypto and core),
// so that scrypt starts once core has loaded, ~60 ms before the whole repository layer would have.
import { prederive } from '../repo/kdf.ts';

function optionValue(argv: string[], short: string | undefined, long: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return undefined;
    if ((short && a === short) || a === long) return argv[i + 1];
    if (a.startsWith(long + '=')) return a.slice(long.length + 1);
  }
  return undefined;
}

export function prewarm(argv: string[], env: NodeJS.ProcessEnv): void {
  try {
    if (argv.includes('--help') || argv.includes('-h') || argv[0] === 'init' || argv[0] === 'dns' || argv[0] === 'help') return;
    const repo = optionValue(argv, '-r', '--repo') ?? env['LIFEBOAT_REPOSITORY'];
    if (!repo || /^[a-z0-9+]+:/i.test(repo)) return; // local repositories only
    let password: string | undefined;
    const file = optionValue(argv, undefined, '--password-file') ?? env['LIFEBOAT_PASSWORD_FILE'];
    if (file) {
      const text = readFileSync(file, 'utf8');
      password = text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
    } else if (!env['LIFEBOAT_PASSWORD_COMMAND'] && env['LIFEBOAT_PASSWORD']) {
      password = env['LIFEBOAT_PASSWORD'];
    }
    if (!password) return;
    const dir = join(repo, 'keys');
    const ids = readdirSync(dir).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort();
    prederive(password, ids.slice(0, 4).map((id) => ({ id, bytes: readFileSync(join(dir, id)) })));
  } catch {
    /* not there, not readable: the command itself will say so */
  }
}
