/** `lifeboat checkpoints GROUP`: at a hot site, the checkpoints its journal holds for a group. */
import type { Command } from 'commander';
import { LifeboatError } from '../../core/index.ts';
import { Session, type Runtime } from '../context.ts';
import { configOption, loadDaemonConfig, type DaemonFlags } from '../daemon-args.ts';
import { formatBytes, formatTable } from '../output.ts';

export function registerCheckpoints(program: Command, rt: Runtime): void {
  program
    .command('checkpoints')
    .summary("list the checkpoints a hot site's journal holds for a group")
    .description(
      "At a hot site: the checkpoints of GROUP in its journal (journals: in lifeboat.yaml), oldest first. Each is a snapshot of the journal, so one file, one folder or the whole member restores from it with `lifeboat -r JOURNAL restore ID` (the journal opens with the group repository's password).",
    )
    .argument('<group>', 'the replicated group')
    .addOption(configOption())
    .option('--last <n>', 'only the newest N')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat checkpoints web -c /etc/lifeboat/lifeboat.yaml --last 20
  lifeboat -r /var/lib/lifeboat/journals/web restore 4f2a9c1e --include /srv/www/index.html --target /tmp/back

EXIT STATUS
  0   listed
  2   usage or configuration error
  1   no journal of that group at this site (yet)`,
    )
    .action(async (group: string, o: DaemonFlags & { last?: string }, c: Command) => {
      const s = Session.of(rt, c);
      const cfg = await loadDaemonConfig(o, rt);
      const j = cfg.journals.find((x) => x.group === group);
      if (!j) {
        throw new LifeboatError('NOT_FOUND', `this site keeps no journal of ${group}`, { hint: cfg.groups.some((g) => g.name === group && g.replicate) ? `${group} is replicated from here: its checkpoints are listed at the hot site` : 'journals: in lifeboat.yaml lists the groups this site is the hot site for' });
      }
      if (o.last !== undefined && !/^\d{1,6}$/.test(o.last)) throw new LifeboatError('USAGE', `--last takes a whole number, not ${o.last}`);
      const { listCheckpoints, openJournal } = await import('../../replication/index.ts');
      const repo = await openJournal(j, s.signal);
      try {
        let list = await listCheckpoints(repo, group, s.signal);
        if (o.last !== undefined) list = list.slice(-Number(o.last));
        s.out.emit({ group, journal: j.path, checkpoints: list.map((x) => ({ id: x.id, short_id: x.short_id, time: x.time, paths: x.paths, files: x.summary?.total_files_processed, bytes: x.summary?.total_bytes_processed })) });
        s.out.print(formatTable(['ID', 'CUT', 'FILES', 'SIZE', 'PATHS'], list.map((x) => [x.short_id, x.time, String(x.summary?.total_files_processed ?? '-'), x.summary ? formatBytes(x.summary.total_bytes_processed) : '-', x.paths.join(' ')])));
        s.out.print(`${list.length} checkpoint${list.length === 1 ? '' : 's'} in ${j.path}`);
      } finally {
        await repo.backend.close();
      }
    });
}
