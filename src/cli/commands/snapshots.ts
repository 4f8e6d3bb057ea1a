/** `lifeboat snapshots`: list recovery points. */
import type { Command } from 'commander';
import { matchesFilter, type SnapshotEntry } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { formatTable, formatTime } from '../output.ts';
import { addFilterOptions, allSnapshots, filterFrom, type FilterOptions } from '../snapshot-args.ts';

/** restic's field names first, then Lifeboat's own (source, consistency). */
export function snapshotJson(s: SnapshotEntry): Record<string, unknown> {
  return {
    id: s.id,
    short_id: s.short_id,
    time: s.time,
    hostname: s.hostname,
    username: s.username,
    ...(s.uid !== undefined ? { uid: s.uid } : {}),
    ...(s.gid !== undefined ? { gid: s.gid } : {}),
    paths: s.paths,
    tags: s.tags ?? [],
    ...(s.group !== undefined ? { group: s.group } : {}),
    ...(s.excludes?.length ? { excludes: s.excludes } : {}),
    parent: s.parent ?? null,
    tree: s.tree,
    program_version: s.program_version,
    summary: s.summary ?? null,
    source: s.source,
    consistency: s.consistency,
    ...(s.hooks ? { hooks: s.hooks } : {}),
    ...(s.original !== undefined ? { original: s.original } : {}),
    ...(s.repair ? { repair: s.repair } : {}),
  };
}

export function registerSnapshots(program: Command, rt: Runtime): void {
  const cmd = program
    .command('snapshots')
    .summary('list snapshots')
    .description('List the snapshots in the repository, oldest first, optionally only those matching --host, --tag, --path.');
  addFilterOptions(cmd, 'snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup snapshots
  lifeboat snapshots --host web1 --tag nightly
  lifeboat --json snapshots | jq -r '.[-1].id'     # the id of the latest snapshot

OUTPUT
  Human: a table of ID, Time (local), Host, Tags and Paths.
  --json: an array of snapshots with restic's field names (id, short_id, time, hostname, username, paths,
  tags, parent, tree, program_version, summary) plus Lifeboat's source and consistency.

EXIT STATUS
  0   success (also when no snapshot matches)
  1   fatal error
  10  the repository does not exist
  12  wrong password`,
    )
    .action(async (o: FilterOptions, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(async (repo) => {
        const filter = filterFrom(o);
        const list = (await allSnapshots(s, repo)).filter((x) => matchesFilter(x, filter));
        s.out.emit(list.map(snapshotJson));
        s.out.print(
          formatTable(
            ['ID', 'Time', 'Host', 'Tags', 'Paths'],
            list.map((x) => [x.short_id, formatTime(x.time), x.hostname, (x.tags ?? []).join(','), x.paths.join('\n')]),
          ),
        );
        s.out.print(`${list.length} snapshot${list.length === 1 ? '' : 's'}`);
      });
    });
}
