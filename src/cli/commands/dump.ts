/** `lifeboat dump SNAPSHOT FILE`: one file's content on stdout. */
import type { Command } from 'commander';
import { LifeboatError, NotFoundError } from '../../core/index.ts';
import { findNode } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { addFilterOptions, filterFrom, pickSnapshot, type FilterOptions } from '../snapshot-args.ts';

export function registerDump(program: Command, rt: Runtime): void {
  const cmd = program
    .command('dump')
    .summary('write one file from a snapshot to stdout')
    .argument('<snapshot>', '"latest", a snapshot id, or a unique prefix of one')
    .argument('<file>', 'absolute path of a file inside the snapshot')
    .description('Write the content of one file from a snapshot to stdout, verified chunk by chunk as it is read.');
  addFilterOptions(cmd, 'consider snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup dump latest /etc/fstab
  lifeboat dump 3f9a1c2e /var/lib/db/dump.sql > dump.sql
  lifeboat dump latest /home/ann/report.odt | sha256sum

  For a folder, use restore: lifeboat restore latest --target /tmp/r --include /home/ann

EXIT STATUS
  0   success
  1   fatal error, the path is not in the snapshot, or it is not a regular file
  10  the repository does not exist
  12  wrong password
  13  the content could not be read back intact (output stops before the damaged part)`,
    )
    .action(async (ref: string, file: string, o: FilterOptions, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(
        async (repo) => {
          const snap = await pickSnapshot(s, repo, ref, filterFrom(o));
          await repo.loadIndex({ signal: s.signal });
          const node = await findNode(repo, snap.tree, file, s.signal);
          if (!node) throw new NotFoundError(`${file} is not in snapshot ${snap.short_id}`, { hint: `\`lifeboat ls ${snap.short_id}\` lists what it holds` });
          if (node.type === 'dir') {
            throw new LifeboatError('USAGE', `${file} is a folder; dump writes the content of one file`, {
              hint: `restore it instead: \`lifeboat restore ${snap.short_id} --target DIR --include ${file}\``,
            });
          }
          if (node.type !== 'file') {
            throw new LifeboatError('USAGE', `${file} is a ${node.type}, not a regular file`, { hint: `\`lifeboat ls -l ${snap.short_id} ${file}\` shows it` });
          }
          for (const id of node.content ?? []) await s.out.writeRaw(await repo.loadBlob('data', id, s.signal));
        },
        { lock: 'read', purpose: 'dump' },
      );
    });
}
