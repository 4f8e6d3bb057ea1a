/** `lifeboat diff A B`: what changed between two snapshots. */
import type { Command } from 'commander';
import { diffSnapshots, resolveSnapshot } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { formatBytes, snakeKeys } from '../output.ts';
import { allSnapshots } from '../snapshot-args.ts';

export function registerDiff(program: Command, rt: Runtime): void {
  program
    .command('diff')
    .summary('show what changed between two snapshots')
    .argument('<snapshot-a>', 'the older snapshot: "latest", an id or a prefix')
    .argument('<snapshot-b>', 'the newer snapshot')
    .description(
      'List the entries that differ between two snapshots, one per line with a marker: + added, - removed, M content changed, T type changed, U metadata only (mode, owner, times, xattrs). ' +
        'Folders that are identical in both are skipped without being read.',
    )
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup diff 3f9a1c2e latest
  lifeboat diff 3f9a1c2e 7b2d4e6f | grep '^M'
  lifeboat --json diff 3f9a1c2e latest | jq -r 'select(.message_type=="change") | .path'

OUTPUT
  Human: "<marker>    <path>" per change, then the counts and sizes.
  --json: JSON lines {"message_type":"change","path","modifier","type"} then one
  {"message_type":"statistics","added","removed","modified","added_bytes","removed_bytes"}.

EXIT STATUS
  0   success (also when nothing changed)
  1   fatal error, or a snapshot not found
  10  the repository does not exist
  12  wrong password
  13  a tree could not be read back intact`,
    )
    .action(async (refA: string, refB: string, _o: unknown, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(
        async (repo) => {
          const damaged: string[] = [];
          const all = await allSnapshots(s, repo, damaged);
          const a = resolveSnapshot(all, refA, {}, damaged);
          const b = resolveSnapshot(all, refB, {}, damaged);
          await repo.loadIndex({ signal: s.signal });
          const d = await diffSnapshots(repo, a, b, s.signal);
          s.out.print(`comparing snapshot ${a.short_id} to ${b.short_id}:`);
          s.out.print('');
          for (const ch of d.changes) {
            s.out.emit({ message_type: 'change', path: ch.path, modifier: ch.change, type: ch.type });
            s.out.print(`${ch.change.padEnd(5)}${ch.path}${ch.type === 'dir' ? '/' : ''}`);
          }
          s.out.emit({ message_type: 'statistics', source_snapshot: a.id, target_snapshot: b.id, ...snakeKeys(d.stats) });
          s.out.print('');
          s.out.print(`Files:   ${d.stats.added} new, ${d.stats.removed} removed, ${d.stats.modified} changed`);
          s.out.print(`Added:   ${formatBytes(d.stats.addedBytes)}`);
          s.out.print(`Removed: ${formatBytes(d.stats.removedBytes)}`);
        },
        { lock: 'read', purpose: 'diff' },
      );
    });
}
