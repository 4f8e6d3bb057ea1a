/** `lifeboat find PATTERN...`: which snapshots hold matching files. */
import type { Command } from 'commander';
import picomatch from 'picomatch';
import { matchesFilter, walkTree } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { formatTime } from '../output.ts';
import { addFilterOptions, allSnapshots, filterFrom, type FilterOptions } from '../snapshot-args.ts';

export function registerFind(program: Command, rt: Runtime): void {
  const cmd = program
    .command('find')
    .summary('find files by name or path in every snapshot')
    .argument('<pattern...>', 'glob patterns; without "/" matched against names, with "/" against absolute paths')
    .description(
      'Search every snapshot for entries matching any of the patterns and print the snapshot and the path of ' +
        'each. A pattern without "/" matches an entry\'s name (*.odt, report-2024*); a pattern with "/" matches ' +
        'the absolute path (/home/*/Documents/**). Quote patterns so the shell does not expand them.',
    );
  addFilterOptions(cmd, 'search snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup find 'report*.odt'
  lifeboat find '/etc/nginx/**' --host web1
  lifeboat --json find '*.sql' | jq -r '.short_id + " " + .path'

OUTPUT
  Human: "<snapshot short id>  <path>" per match, oldest snapshot first.
  --json: JSON lines {"snapshot","short_id","time","path","name","type","size","mtime"}.

EXIT STATUS
  0   success (also when nothing matches)
  1   fatal error
  10  the repository does not exist
  12  wrong password
  13  a tree could not be read back intact`,
    )
    .action(async (patterns: string[], o: FilterOptions, c: Command) => {
      const s = Session.of(rt, c);
      // TODO(library): a `findInSnapshots(repo, matcher)` that remembers the matches of a tree id across snapshots
      // would skip re-walking the (mostly identical) trees of every snapshot.
      const byPath = patterns.filter((p) => p.includes('/')).map((p) => picomatch(p, { dot: true }));
      const byName = patterns.filter((p) => !p.includes('/')).map((p) => picomatch(p, { dot: true }));
      await s.withRepo(
        async (repo) => {
          const filter = filterFrom(o);
          const snaps = (await allSnapshots(s, repo)).filter((x) => matchesFilter(x, filter));
          await repo.loadIndex({ signal: s.signal });
          let found = 0;
          let damaged = 0;
          for (const snap of snaps) {
            await walkTree(
              repo,
              snap.tree,
              ({ path, node }) => {
                if (!byName.some((m) => m(node.name)) && !byPath.some((m) => m(path))) return;
                found++;
                s.out.emit({ snapshot: snap.id, short_id: snap.short_id, time: snap.time, path, name: node.name, type: node.type, size: node.size ?? 0, mtime: node.mtime ?? null });
                s.out.print(`${snap.short_id}  ${path}`);
              },
              {
                signal: s.signal,
                // One damaged folder hides what is in it, not the rest: said, searched around, exit 13.
                onDamaged: (path, err) => {
                  damaged++;
                  s.out.warn(`snapshot ${snap.short_id}: ${path}: cannot be searched: ${err.message}`, { message_type: 'error', error: { message: err.message }, snapshot: snap.id, item: path });
                },
              },
            );
          }
          if (damaged > 0) {
            s.out.warn(`${damaged} folder(s) could not be searched; \`lifeboat check\` says what is damaged`);
            s.exitWith(ExitCode.integrity);
          }
          s.out.detail(`${found} match(es) in ${snaps.length} snapshot(s)${snaps.length ? `, ${formatTime(snaps[0]!.time)} to ${formatTime(snaps[snaps.length - 1]!.time)}` : ''}`);
        },
        { lock: 'read', purpose: 'find' },
      );
    });
}
