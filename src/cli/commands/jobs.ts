/** `lifeboat jobs`: the daemon's job history. */
import type { Command } from 'commander';
import { LifeboatError } from '../../core/index.ts';
import { Session, type Runtime } from '../context.ts';
import { addDaemonOptions, endpoint, type DaemonFlags } from '../daemon-args.ts';
import { formatBytes, formatTable } from '../output.ts';

interface JobJson {
  id: number;
  group: string;
  kind: string;
  trigger: string;
  status: string;
  started?: string;
  duration_seconds?: number;
  snapshots: string[];
  bytes_added: number;
  error?: string;
}

export function registerJobs(program: Command, rt: Runtime): void {
  addDaemonOptions(program.command('jobs').summary('list the daemon\'s jobs, newest first').description('List the jobs the daemon ran, runs and has queued, newest first, with their outcome.'))
    .option('--group <name>', 'only this group\'s jobs')
    .option('--limit <n>', 'at most this many (default 20)', '20')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat jobs -c /etc/lifeboat/lifeboat.yaml --group web
  lifeboat --json jobs --limit 100 | jq '.jobs[] | select(.status == "failed")'

EXIT STATUS
  0   listed
  2   usage or configuration error
  15  no daemon answers, or it refused the token`,
    )
    .action(async (o: DaemonFlags & { group?: string; limit: string }, c: Command) => {
      const s = Session.of(rt, c);
      if (!/^\d{1,4}$/.test(o.limit) || Number(o.limit) < 1) throw new LifeboatError('USAGE', `--limit takes a whole number from 1 to 1000, not ${o.limit}`);
      const { apiRequest } = await import('../../daemon/index.ts');
      const q = new URLSearchParams({ limit: o.limit, ...(o.group ? { group: o.group } : {}) });
      const r = await apiRequest<{ jobs: JobJson[] }>(await endpoint(o, rt), 'GET', `/v1/jobs?${q.toString()}`, undefined, { signal: s.signal });
      s.out.emit(r);
      s.out.print(
        formatTable(
          ['ID', 'GROUP', 'KIND', 'TRIGGER', 'STATUS', 'STARTED', 'TOOK', 'ADDED', 'SNAPSHOTS'],
          r.jobs.map((j) => [String(j.id), j.group, j.kind, j.trigger, j.status, j.started ?? '-', j.duration_seconds === undefined ? '-' : `${j.duration_seconds.toFixed(1)} s`, formatBytes(j.bytes_added), j.snapshots.map((x) => x.slice(0, 8)).join(' ') || '-']),
        ),
      );
      for (const j of r.jobs) if (j.error) s.out.print(`job ${j.id}: ${j.error}`);
    });
}
