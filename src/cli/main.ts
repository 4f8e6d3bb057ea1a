/**
 * Entry point of the `lifeboat` command (bin/lifeboat.js loads it). Wires the process to the program:
 * signals become an AbortSignal, a closed stdout pipe ends the run quietly, and the result becomes the
 * exit status.
 */
import { readFileSync } from 'node:fs';
import { boundHeapGrowth, decodeName, errnoCode } from '../core/index.ts';
import type { Runtime } from './context.ts';
import { ExitCode } from './exit-codes.ts';
import { prewarm } from './prewarm.ts';

boundHeapGrowth();
const args = userArgs();
// Before the commands load: start deriving the repository key (see prewarm.ts).
prewarm(args, process.env);
const { run } = await import('./program.ts');

// A reload (SIGHUP) while the daemon loads is kept for it (Node's default would end the process).
if (args.includes('daemon') && process.listenerCount('SIGHUP') === 0) {
  process.on('SIGHUP', () => ((process as unknown as Record<symbol, boolean>)[Symbol.for('lifeboat.sighup')] = true));
}

const controller = new AbortController();
const rt: Runtime = { signal: controller.signal, env: process.env, exitCode: ExitCode.ok, stdoutClosed: false };

// First Ctrl-C: stop cleanly (release locks, leave no half-written files). Second: leave at once.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.removeAllListeners(sig); // bin/lifeboat.js's, for the time the program loads
  process.on(sig, () => {
    if (controller.signal.aborted) {
      if (rt.holdOnRepeatedSignal) return;
      if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n'); // the progress display hid the cursor
      process.exit(ExitCode.interrupted);
    }
    process.stderr.write('\nlifeboat: interrupted; stopping (press Ctrl-C again to quit at once)\n');
    controller.abort(new Error(`received ${sig}`));
  });
}

// `lifeboat ls latest | head`: the reader went away. Not an error: stop the command the way Ctrl-C does
// (so locks are released) and exit with the status so far.
process.stdout.on('error', (err) => {
  if (errnoCode(err) !== 'EPIPE') throw err;
  rt.stdoutClosed = true;
  controller.abort(err);
});

process.exitCode = await run(args, rt);

/**
 * The user's arguments, bytes that are not UTF-8 kept (escaped as file names are, core/fsname): Node
 * decodes argv lossily, so `lifeboat backup $'caf\xe9'` would otherwise name another file. Read from
 * /proc/self/cmdline, whose last entries are these arguments; Node's own decoding where that is not so.
 */
function userArgs(): string[] {
  const lossy = process.argv.slice(2);
  try {
    const raw = readFileSync('/proc/self/cmdline');
    const parts: Buffer[] = [];
    for (let at = 0; at < raw.length; ) {
      const end = raw.indexOf(0, at);
      parts.push(raw.subarray(at, end < 0 ? raw.length : end));
      at = end < 0 ? raw.length : end + 1;
    }
    const tail = parts.slice(parts.length - lossy.length);
    const replace = new TextDecoder();
    if (tail.length === lossy.length && tail.every((b, i) => replace.decode(b) === lossy[i])) return tail.map(decodeName);
  } catch {
    /* no /proc: Node's decoding */
  }
  return lossy;
}
