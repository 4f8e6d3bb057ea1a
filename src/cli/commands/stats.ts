/** `lifeboat stats [SNAPSHOT...]`: sizes, deduplication and compression. */
import type { Command } from 'commander';
import { matchesFilter, repoStats, resolveSnapshot } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { formatBytes, snakeKeys } from '../output.ts';
import { addFilterOptions, allSnapshots, filterFrom, type FilterOptions } from '../snapshot-args.ts';

export function registerStats(program: Command, rt: Runtime): void {
  const cmd = program
    .command('stats')
    .summary('show repository sizes, deduplication and compression')
    .argument('[snapshot...]', 'snapshots to count ("latest", ids or prefixes); default: all')
    .description(
      'Show how much the repository holds: the number of files and bytes a restore of the chosen snapshots would write, ' +
        'the distinct data left after deduplication, and the bytes stored after compression and encryption.',
    );
  addFilterOptions(cmd, 'count snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup stats
  lifeboat stats latest
  lifeboat stats --host web1
  lifeboat --json stats | jq .dedup_ratio

OUTPUT
  --json: {"snapshots", "total_files", "restore_size", "unique_blobs", "unique_size", "stored_size",
  "packs", "dedup_ratio", "compression_ratio"}.

EXIT STATUS
  0   success
  1   fatal error, or a snapshot not found
  10  the repository does not exist
  12  wrong password
  13  a tree could not be read back intact`,
    )
    .action(async (refs: string[], o: FilterOptions, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(
        async (repo) => {
          const filter = filterFrom(o);
          const damaged: string[] = [];
          const all = await allSnapshots(s, repo, damaged);
          const snaps = refs.length ? refs.map((r) => resolveSnapshot(all, r, filter, damaged)) : all.filter((x) => matchesFilter(x, filter));
          const st = await repoStats(repo, snaps, s.signal);
          s.out.emit(snakeKeys(st));
          s.out.print(`Snapshots:         ${st.snapshots}`);
          s.out.print(`Files:             ${st.totalFiles} (in all snapshots counted)`);
          s.out.print(`Restore size:      ${formatBytes(st.restoreSize)}`);
          s.out.print(`Unique data:       ${formatBytes(st.uniqueSize)} in ${st.uniqueBlobs} chunks`);
          s.out.print(`Stored:            ${formatBytes(st.storedSize)} in ${st.packs} packs (the whole repository)`);
          s.out.print(`Deduplication:     ${st.dedupRatio.toFixed(2)}x`);
          s.out.print(`Compression:       ${st.compressionRatio.toFixed(2)}x`);
        },
        { lock: 'read', purpose: 'stats' },
      );
    });
}
