/**
 * The `lifeboat` program: global options, the commands (one file each in commands/), and the one error
 * boundary. A `LifeboatError` is shown as its message and hint and exits with the status of its code
 * (exit-codes.ts); anything else is a bug: "internal error", the stack with -v, exit 1.
 */
import { Command, CommanderError, Option } from 'commander';
import { isLifeboatError, type LifeboatError } from '../core/index.ts';
import { PROGRAM_VERSION } from '../sources/files/index.ts';
import { registerBackup } from './commands/backup.ts';
import { registerCheck } from './commands/check.ts';
import { registerCheckpoints } from './commands/checkpoints.ts';
import { registerDiff } from './commands/diff.ts';
import { registerDump } from './commands/dump.ts';
import { registerFind } from './commands/find.ts';
import { registerForget } from './commands/forget.ts';
import { registerInit } from './commands/init.ts';
import { registerKey } from './commands/key.ts';
import { registerLs } from './commands/ls.ts';
import { registerPrune } from './commands/prune.ts';
import { registerRepair } from './commands/repair.ts';
import { registerRestore } from './commands/restore.ts';
import { registerSnapshots } from './commands/snapshots.ts';
import { registerStats } from './commands/stats.ts';
import { registerUnlock } from './commands/unlock.ts';
import { registerWal } from './commands/wal.ts';
import { registerDns } from './commands/dns.ts';
import { registerConfig } from './commands/config.ts';
import { registerDaemon } from './commands/daemon.ts';
import { registerJobs } from './commands/jobs.ts';
import { registerRun } from './commands/run.ts';
import { registerStatus } from './commands/status.ts';
import type { Runtime } from './context.ts';
import { ExitCode, exitCodeFor, exitCodeHelp, type ExitCodeValue } from './exit-codes.ts';

const environmentHelp = `
ENVIRONMENT
  LIFEBOAT_REPOSITORY         repository location (instead of -r)
  LIFEBOAT_PASSWORD_FILE      file holding the password (instead of --password-file)
  LIFEBOAT_PASSWORD_COMMAND   shell command printing the password (run with /bin/sh -c)
  LIFEBOAT_PASSWORD           the password itself
  LIFEBOAT_NEW_PASSWORD       new password for \`key add\` and \`key passwd\`
  Without any of them, the password is asked for on the terminal.`;

export function buildProgram(rt: Runtime): Command {
  const program = new Command('lifeboat')
    .description('Backup and disaster recovery on one engine: encrypted, deduplicated repositories and point-in-time restore.')
    .version(PROGRAM_VERSION, '-V, --version', 'print the version and exit')
    .addOption(new Option('-r, --repo <path>', 'repository location').env('LIFEBOAT_REPOSITORY'))
    .addOption(new Option('--password-file <file>', 'read the repository password from FILE').env('LIFEBOAT_PASSWORD_FILE'))
    .option('--json', 'machine-readable output on stdout (one JSON document, or JSON lines for streams)')
    .option('-q, --quiet', 'print only warnings and errors')
    .option('-v, --verbose', 'print more detail (never passwords or keys)')
    .option('--no-progress', 'do not draw progress, even on a terminal')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    // Usage errors are printed by the error boundary, in the same shape as every other error.
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', `${environmentHelp}\n${exitCodeHelp}`);

  registerInit(program, rt);
  registerBackup(program, rt);
  registerSnapshots(program, rt);
  registerRestore(program, rt);
  registerLs(program, rt);
  registerFind(program, rt);
  registerDump(program, rt);
  registerDiff(program, rt);
  registerForget(program, rt);
  registerPrune(program, rt);
  registerCheck(program, rt);
  registerRepair(program, rt);
  registerStats(program, rt);
  registerKey(program, rt);
  registerUnlock(program, rt);
  registerWal(program, rt);
  registerDns(program, rt);
  registerConfig(program, rt);
  registerDaemon(program, rt);
  registerStatus(program, rt);
  registerJobs(program, rt);
  registerCheckpoints(program, rt);
  registerRun(program, rt);
  return program;
}

/** The command a usage error belongs to, for the hint (`lifeboat key add --help`). */
function commandPath(program: Command, argv: string[]): string {
  const names = ['lifeboat'];
  let cmd = program;
  for (const arg of argv) {
    const sub = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) continue;
    names.push(sub.name());
    cmd = sub;
  }
  return names.join(' ');
}

interface Rendered {
  code: string;
  message: string;
  hint?: string | undefined;
  context?: Record<string, unknown>;
}

function describe(err: LifeboatError, verbose: boolean): Rendered {
  let message = err.message;
  if (verbose) {
    // The chain of causes helps with IO and backend failures; they name files, never secrets.
    let c: unknown = err.cause;
    for (let depth = 0; c instanceof Error && depth < 5; depth++, c = c.cause) message += `\n  caused by: ${c.message}`;
  }
  return {
    code: err.code,
    message,
    hint: err.hint,
    ...(Object.keys(err.context).length ? { context: err.context } : {}),
  };
}

/** Runs the program on `argv` (user arguments only) and returns the exit status. Never throws. */
export async function run(argv: string[], rt: Runtime): Promise<ExitCodeValue> {
  const program = buildProgram(rt);
  // After a parse error the options may be half parsed, so the raw arguments count too.
  const flag = (name: 'json' | 'verbose', ...spellings: string[]): boolean =>
    program.opts()[name] === true || spellings.some((f) => argv.includes(f));
  const report = (r: Rendered, exit: ExitCodeValue, stack?: string): ExitCodeValue => {
    if (flag('json', '--json')) {
      process.stdout.write(JSON.stringify({ message_type: 'exit_error', error: { code: r.code, message: r.message, hint: r.hint, ...(r.context ? { context: r.context } : {}) }, exit_code: exit }) + '\n');
    } else {
      process.stderr.write(`lifeboat: ${r.message}\n`);
      if (r.hint) process.stderr.write(`hint: ${r.hint}\n`);
    }
    if (stack) process.stderr.write(`${stack}\n`);
    return exit;
  };
  try {
    await program.parseAsync(argv, { from: 'user' });
    return rt.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return ExitCode.ok;
      if (err.code === 'commander.help') return ExitCode.usage; // `lifeboat` alone: help went to stderr
      const message = err.message.replace(/^error: /, '');
      return report({ code: 'USAGE', message, hint: `see \`${commandPath(program, argv)} --help\`` }, ExitCode.usage);
    }
    if (rt.stdoutClosed) return rt.exitCode; // nobody is listening; whatever stopped us is the EPIPE
    // Interrupted: whatever the operation threw on its way out (an abort error of some layer) is not news.
    if (rt.signal.aborted) return report({ code: 'ABORTED', message: 'interrupted' }, ExitCode.interrupted);
    const verbose = flag('verbose', '-v', '--verbose');
    if (isLifeboatError(err)) return report(describe(err, verbose), exitCodeFor(err.code));
    const e = err instanceof Error ? err : new Error(String(err));
    return report(
      { code: 'INTERNAL', message: `internal error: ${e.message}`, hint: verbose ? 'this is a bug in Lifeboat; please report it with the output above' : 'this is a bug in Lifeboat; run again with -v for details and report it' },
      ExitCode.fatal,
      verbose ? e.stack : undefined,
    );
  }
}
