/** `lifeboat daemon -c lifeboat.yaml`: run the site daemon in the foreground. */
import type { Command } from 'commander';
import { Session, type Runtime } from '../context.ts';
import { configOption, loadDaemonConfig, type DaemonFlags } from '../daemon-args.ts';

/** How long stopping may take after SIGTERM before the process leaves anyway (systemd waits 90 s; users expect seconds). */
const STOP_DEADLINE_MS = 9_000;

export function registerDaemon(program: Command, rt: Runtime): void {
  program
    .command('daemon')
    .summary('run the site daemon: schedules, job history, API, metrics, notifications')
    .description(
      'Run the site daemon in the foreground (under systemd: docs/lifeboat.service). It backs up each protection ' +
        'group of the configuration on its schedule (a run missed while the daemon was down runs once at start), ' +
        'applies the group\'s retention after each backup, checks on the check schedule, keeps the job history and ' +
        'an audit log in SQLite under site.data, serves the HTTP API (TLS unless it listens on loopback only; with ' +
        'no certificate configured it makes a self-signed one and prints its fingerprint), Prometheus metrics at ' +
        '/metrics, and sends webhook notifications when a job fails or a recovery point gets older than its RPO.\n\n' +
        'One daemon per data folder: a second is refused with the holder\'s pid. SIGTERM or SIGINT cancels running ' +
        'jobs (recorded as interrupted; the repository stays valid) and exits within 10 s. SIGHUP reads the ' +
        'configuration again; a file with an error is refused, logged with its line, and the old configuration kept.\n\n' +
        'For the CLI on the same host, the daemon writes an admin token to site.data/local.token (readable by its ' +
        'user only), which `lifeboat status`, `jobs` and `run` use when no token is given.',
    )
    .addOption(configOption())
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat daemon -c /etc/lifeboat/lifeboat.yaml
  lifeboat --json daemon -c lifeboat.yaml | jq 'select(.event == "job-ended")'
  systemctl reload lifeboat          # SIGHUP: read the configuration again

OUTPUT
  One line per event (started, job started/ended, notices, reloads) on stderr; with --json, JSON lines on stdout.

EXIT STATUS
  0   stopped by SIGTERM or SIGINT
  1   could not start (the API's address in use, a state file that cannot be opened)
  2   configuration error (file, line and field named)
  15  another daemon runs on the same data folder (its pid is named), or the data folder was deleted,
      moved or replaced while the daemon ran (it stops at once, so no second daemon runs beside it)`,
    )
    .action(async (o: DaemonFlags, c: Command) => {
      const s = Session.of(rt, c);
      const cfg = await loadDaemonConfig(o, rt);
      const { startDaemon, reloadDaemon } = await import('../../daemon/index.ts');
      const log = (e: Record<string, unknown>): void => {
        if (s.opts.json) s.out.emit({ time: new Date().toISOString(), ...e });
        else if (!s.opts.quiet) process.stderr.write(`${new Date().toISOString()} ${Object.entries(e).map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`).join(' ')}\n`);
      };
      // SIGHUP before the daemon is up (systemctl reload right after start) is kept and applied once it is:
      // Node's default for it would end the process.
      let running: Awaited<ReturnType<typeof startDaemon>> | undefined;
      const early = Symbol.for('lifeboat.sighup');
      let pendingHup = false;
      const onHup = (): void => {
        if (!running) {
          pendingHup = true;
          return;
        }
        try {
          reloadDaemon(running.daemon);
        } catch (err) {
          log({ event: 'reload-refused', error: (err as Error).message, kept: 'the configuration in use' });
        }
      };
      // Ours first, then the loaders' off: with no listener for a moment Node would stop watching the
      // signal and drop one already caught but not yet delivered.
      const loaders = process.listeners('SIGHUP');
      process.on('SIGHUP', onHup);
      for (const l of loaders) process.off('SIGHUP', l);
      if ((process as unknown as Record<symbol, boolean>)[early] === true) pendingHup = true;
      // A second SIGTERM while stopping must not cut the post hooks short: the deadline below ends it anyway.
      rt.holdOnRepeatedSignal = true;
      try {
        running = await startDaemon(cfg, { log, signal: s.signal });
      } catch (err) {
        process.off('SIGHUP', onHup);
        throw err;
      }
      if (running.api) log({ event: 'api-listening', url: running.api.url, ...(running.tls ? { fingerprint: running.tls.fingerprint, certificate: running.tls.certFile } : {}) });
      if (pendingHup) onHup();
      try {
        const daemon = running.daemon;
        const failed = await new Promise<Error | undefined>((resolve) => {
          if (s.signal.aborted) resolve(undefined);
          s.signal.addEventListener('abort', () => resolve(undefined), { once: true });
          void daemon.failed.then(resolve);
        });
        log({ event: 'stopping' });
        const deadline = setTimeout(() => {
          log({ event: 'stop-timed-out', after_ms: STOP_DEADLINE_MS });
          process.exit(1);
        }, STOP_DEADLINE_MS);
        // Left armed after stop: work that outlives it (an API restore) must not keep the process past the deadline.
        deadline.unref();
        await running.daemon.stop();
        log({ event: 'stopped' });
        if (failed) throw failed;
      } finally {
        process.off('SIGHUP', onHup);
      }
    });
}
