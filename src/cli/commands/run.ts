/** `lifeboat run GROUP`: a backup (or check) now, through the daemon. */
import type { Command } from 'commander';
import { LifeboatError } from '../../core/index.ts';
import { Session, type Runtime } from '../context.ts';
import { addDaemonOptions, endpoint, type DaemonFlags } from '../daemon-args.ts';
import { ExitCode } from '../exit-codes.ts';

interface JobJson {
  id: number;
  status: string;
  snapshots: string[];
  error?: string;
  warnings: string[];
}

export function registerRun(program: Command, rt: Runtime): void {
  addDaemonOptions(
    program
      .command('run')
      .summary('back a group up now, through the daemon')
      .argument('<group>', 'the protection group')
      .description(
        'Ask the running daemon to back the group up now (or check its repository with --check). The job is queued like a ' +
          'scheduled one: it waits for the group\'s running job and the global limit. Without --no-wait, waits for its end.',
      ),
  )
    .option('--check', 'check the group\'s repository instead of backing up')
    .option('--no-wait', 'return once the job is queued')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat run web -c /etc/lifeboat/lifeboat.yaml
  lifeboat run web --no-wait --json | jq .job.id

EXIT STATUS
  0   the job succeeded (or, with --no-wait, was queued)
  1   the job failed (its error is printed)
  3   the job saved its snapshots, but some files could not be read or the post hook failed
  15  no daemon answers, it refused the token (run needs the operator role), or no such group
  130 the job was interrupted (the daemon stopped)`,
    )
    .action(async (group: string, o: DaemonFlags & { check?: boolean; wait: boolean }, c: Command) => {
      const s = Session.of(rt, c);
      const { apiRequest } = await import('../../daemon/index.ts');
      const ep = await endpoint(o, rt);
      const kind = o.check ? 'check' : 'backup';
      const r = await apiRequest<{ job: JobJson; queued: boolean }>(ep, 'POST', `/v1/groups/${encodeURIComponent(group)}/${kind}`, {}, { signal: s.signal });
      s.out.detail(r.queued ? `job ${r.job.id} queued` : `job ${r.job.id} was already waiting`);
      if (!o.wait) {
        s.out.emit(r);
        s.out.print(`job ${r.job.id} queued`);
        return;
      }
      let job = r.job;
      while (job.status === 'queued' || job.status === 'running') {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(resolve, 500);
          s.signal.addEventListener('abort', () => (clearTimeout(t), reject(new LifeboatError('ABORTED', 'stopped waiting; the job goes on in the daemon'))), { once: true });
        });
        job = await apiRequest<JobJson>(ep, 'GET', `/v1/jobs/${job.id}`, undefined, { signal: s.signal });
      }
      s.out.emit({ job });
      s.out.print(`job ${job.id}: ${job.status}${job.snapshots.length ? `, snapshots ${job.snapshots.map((x) => x.slice(0, 8)).join(' ')}` : ''}`);
      for (const w of job.warnings) s.out.warn(w);
      if (job.error) s.out.print(`error: ${job.error}`);
      if (job.status === 'failed') s.exitWith(ExitCode.fatal);
      else if (job.status === 'partial') s.exitWith(ExitCode.partial);
      else if (job.status === 'interrupted') s.exitWith(ExitCode.interrupted);
    });
}
