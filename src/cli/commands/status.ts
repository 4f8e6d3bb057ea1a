/** `lifeboat status`: ask the running daemon whether every group's data is safe. */
import type { Command } from 'commander';
import { Session, type Runtime } from '../context.ts';
import { addDaemonOptions, endpoint, type DaemonFlags } from '../daemon-args.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatBytes, formatTable } from '../output.ts';

interface GroupJson {
  name: string;
  members: string[];
  last_good?: string;
  age_seconds?: number;
  rpo_seconds?: number;
  rpo_breached: boolean;
  failing: boolean;
  next_backup?: string;
  running: Array<{ id: number; kind: string }>;
  last_backup?: { status: string; error?: string };
  snapshots?: number;
}

export function ago(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

export function registerStatus(program: Command, rt: Runtime): void {
  addDaemonOptions(
    program
      .command('status')
      .summary('ask the daemon how each protection group stands')
      .description(
        'Ask the running daemon for each group: the newest good recovery point and its age against the RPO objective, ' +
          'whether the last backup failed, the next scheduled run and the jobs running now.',
      ),
  )
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat status -c /etc/lifeboat/lifeboat.yaml
  lifeboat --json status | jq '.groups[] | {name, age_seconds, rpo_breached}'

EXIT STATUS
  0   every group is within its RPO and its last backup worked
  3   some group is over its RPO, or its last backup failed
  2   configuration error
  15  no daemon answers (it says how to start one), or it refused the token`,
    )
    .action(async (o: DaemonFlags, c: Command) => {
      const s = Session.of(rt, c);
      const { apiRequest } = await import('../../daemon/index.ts');
      const ep = await endpoint(o, rt);
      const st = await apiRequest<{ site: string; started: string; groups: GroupJson[]; repositories: Array<{ name: string; path: string; size_bytes?: number }> }>(ep, 'GET', '/v1/status', undefined, { signal: s.signal });
      s.out.emit(st);
      s.out.print(`site ${st.site}, daemon up since ${st.started}`);
      s.out.print(
        formatTable(
          ['GROUP', 'LAST GOOD', 'AGE', 'RPO', 'STATE', 'NEXT BACKUP', 'SNAPSHOTS'],
          st.groups.map((g) => [
            g.name,
            g.last_good ?? 'never',
            ago(g.age_seconds),
            g.rpo_seconds === undefined ? '-' : ago(g.rpo_seconds),
            g.running.length ? `running ${g.running.map((j) => j.kind).join(', ')}` : g.failing ? 'FAILING' : g.rpo_breached ? 'OVER RPO' : 'ok',
            g.next_backup ?? '-',
            g.snapshots === undefined ? '-' : String(g.snapshots),
          ]),
        ),
      );
      for (const g of st.groups) if (g.failing && g.last_backup?.error) s.out.print(`${g.name}: last backup failed: ${g.last_backup.error}`);
      for (const r of st.repositories) s.out.print(`repository ${r.name} at ${r.path}${r.size_bytes !== undefined ? `: ${formatBytes(r.size_bytes)}` : ''}`);
      if (st.groups.some((g) => g.failing || g.rpo_breached)) s.exitWith(ExitCode.partial);
    });
}
