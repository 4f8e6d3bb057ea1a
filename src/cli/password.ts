/**
 * Where a password comes from. For an existing repository, first match wins:
 *   1. `--password-file FILE` (or LIFEBOAT_PASSWORD_FILE): the file's content, minus one trailing newline;
 *   2. LIFEBOAT_PASSWORD_COMMAND: run with /bin/sh -c, its stdout minus one trailing newline;
 *   3. LIFEBOAT_PASSWORD;
 *   4. a prompt without echo, when stdin is a terminal;
 *   else a NO_PASSWORD error (a script must not hang waiting for a prompt nobody sees).
 * The order follows restic: an explicit file or command beats a password left in the environment.
 *
 * A password is never printed, logged or put in an error message, also not with -v.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { abortError, killTree, LifeboatError } from '../core/index.ts';

const noPasswordHint =
  'give the password with --password-file FILE, LIFEBOAT_PASSWORD_FILE, LIFEBOAT_PASSWORD_COMMAND or LIFEBOAT_PASSWORD, or run on a terminal to be asked';

function chompOne(s: string): string {
  return s.endsWith('\r\n') ? s.slice(0, -2) : s.endsWith('\n') ? s.slice(0, -1) : s;
}

export async function passwordFromFile(file: string, what = 'password'): Promise<string> {
  try {
    return chompOne(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new LifeboatError('NO_PASSWORD', `cannot read the ${what} file ${file}: ${(cause as Error).message}`, {
      hint: 'check the path given with --password-file / --new-password-file',
      cause,
    });
  }
}

/** Runs the password command; its stderr goes to ours (it may need to explain itself), its stdout is the password. */
export async function passwordFromCommand(command: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['inherit', 'pipe', 'inherit'] });
    // Ctrl-C or SIGTERM while it runs (a command waiting on a vault, say) stops it, what it started, and us.
    // Not through a process group of its own: that would take the terminal a prompting command needs.
    const onAbort = (): void => {
      if (child.pid !== undefined) killTree(child.pid);
      child.stdout.destroy();
      child.unref();
      reject(abortError(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.on('exit', () => signal?.removeEventListener('abort', onAbort));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (cause) => {
      reject(new LifeboatError('NO_PASSWORD', `cannot run LIFEBOAT_PASSWORD_COMMAND: ${cause.message}`, { cause }));
    });
    child.on('close', (code, sig) => {
      if (signal?.aborted) return reject(abortError(signal));
      if (code === 0) {
        resolve(chompOne(Buffer.concat(chunks).toString('utf8')));
        return;
      }
      // Not the command line itself: it may carry a secret.
      const how = sig ? `was killed by ${sig}` : `exited with status ${code}`;
      reject(new LifeboatError('NO_PASSWORD', `LIFEBOAT_PASSWORD_COMMAND ${how}`, { hint: 'run the command by hand to see why it fails' }));
    });
  });
}

/** Reads a line from the terminal without echoing it. Ctrl-C aborts, Ctrl-U clears, backspace deletes. */
export async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new LifeboatError('NO_PASSWORD', 'no password given and stdin is not a terminal', { hint: noPasswordHint });
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let buf = '';
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (s: string): void => {
      for (const ch of s) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(buf);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new LifeboatError('ABORTED', 'interrupted at the password prompt'));
          return;
        }
        if (ch === '\u0004' && buf === '') {
          finish();
          reject(new LifeboatError('NO_PASSWORD', 'no password entered', { hint: noPasswordHint }));
          return;
        }
        if (ch === '\u007f' || ch === '\b') buf = [...buf].slice(0, -1).join('');
        else if (ch === '\u0015') buf = '';
        else if (ch >= ' ') buf += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export interface PasswordSources {
  passwordFile?: string | undefined;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** The password of an existing repository. */
export async function readPassword(src: PasswordSources): Promise<string> {
  if (src.passwordFile) return passwordFromFile(src.passwordFile);
  const command = src.env.LIFEBOAT_PASSWORD_COMMAND;
  if (command) return passwordFromCommand(command, src.signal);
  const pw = src.env.LIFEBOAT_PASSWORD;
  if (pw) return pw;
  if (process.stdin.isTTY) return promptHidden('enter password for repository: ');
  throw new LifeboatError('NO_PASSWORD', 'no password given', { hint: noPasswordHint });
}

/** Asks twice on a terminal; the two must match. */
async function promptTwice(question: string): Promise<string> {
  const first = await promptHidden(question);
  const second = await promptHidden('enter password again: ');
  if (first !== second) throw new LifeboatError('USAGE', 'the passwords do not match', { hint: 'run the command again' });
  return first;
}

/** The password of a repository about to be created: like `readPassword`, but a prompt asks twice. */
export async function readInitPassword(src: PasswordSources): Promise<string> {
  if (src.passwordFile || src.env.LIFEBOAT_PASSWORD_COMMAND || src.env.LIFEBOAT_PASSWORD || !process.stdin.isTTY) {
    return readPassword(src);
  }
  return promptTwice('enter password for new repository: ');
}

/**
 * A new password for `key add` / `key passwd`: `--new-password-file FILE`, else LIFEBOAT_NEW_PASSWORD, else
 * asked twice on a terminal. The environment variable comes before the prompt so that setting it is never
 * silently ignored.
 */
export async function readNewPassword(file: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  if (file) return passwordFromFile(file, 'new password');
  const pw = env.LIFEBOAT_NEW_PASSWORD;
  if (pw) return pw;
  if (process.stdin.isTTY) return promptTwice('enter new password: ');
  throw new LifeboatError('NO_PASSWORD', 'no new password given', {
    hint: 'give it with --new-password-file FILE or LIFEBOAT_NEW_PASSWORD, or run on a terminal to be asked',
  });
}
