/** `lifeboat ls SNAPSHOT [PATH]`: the entries of a snapshot. */
import type { Command } from 'commander';
import { LifeboatError, NotFoundError } from '../../core/index.ts';
import { findNode, walkTree, type WalkEntry } from '../../repo/index.ts';
import type { LogicalSource } from '../../sources/postgres/index.ts';
import { Session, type Runtime } from '../context.ts';
import { formatBytes, formatMode, formatTable, formatTime } from '../output.ts';
import { addFilterOptions, filterFrom, pickSnapshot, type FilterOptions } from '../snapshot-args.ts';

interface LsFlags extends FilterOptions {
  long?: boolean;
}

/** One entry as a JSON line (restic's `ls --json` node shape). */
export function nodeJson(e: WalkEntry): Record<string, unknown> {
  const n = e.node;
  return {
    name: n.name,
    type: n.type,
    path: e.path,
    uid: n.uid ?? 0,
    gid: n.gid ?? 0,
    ...(n.user !== undefined ? { user: n.user } : {}),
    ...(n.group !== undefined ? { group: n.group } : {}),
    size: n.size ?? 0,
    mode: n.mode ?? 0,
    permissions: formatMode(n.type, n.mode),
    mtime: n.mtime ?? null,
    ...(n.linktarget !== undefined ? { linktarget: n.linktarget } : {}),
    struct_type: 'node',
    message_type: 'node',
  };
}

function longLine(e: WalkEntry): string {
  const n = e.node;
  const user = (n.user ?? String(n.uid ?? 0)).padEnd(8);
  const group = (n.group ?? String(n.gid ?? 0)).padEnd(8);
  const size = String(n.size ?? 0).padStart(12);
  const link = n.type === 'symlink' && n.linktarget !== undefined ? ` -> ${n.linktarget}` : '';
  return `${formatMode(n.type, n.mode)} ${user} ${group} ${size} ${n.mtime ? formatTime(n.mtime) : '-'.padEnd(19)} ${e.path}${link}`;
}

export function registerLs(program: Command, rt: Runtime): void {
  const cmd = program
    .command('ls')
    .summary('list the files in a snapshot')
    .argument('<snapshot>', '"latest", a snapshot id, or a unique prefix of one')
    .argument('[path]', 'absolute path inside the snapshot to list from (default: everything)')
    .description('List the entries of a snapshot, recursively, from the given path (or the root). Paths are absolute, as they were backed up.')
    .option('-l, --long', 'long format: mode, user, group, size, modification time, path');
  addFilterOptions(cmd, 'consider snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup ls latest
  lifeboat ls 3f9a1c2e /home/ann -l
  lifeboat --json ls latest /etc | jq -r 'select(.type=="file") | .path'

OUTPUT
  Human: one path per line; with -l: mode user group size mtime path.
  --json: JSON lines: first the snapshot ({"struct_type":"snapshot",...}), then one line per entry with
  name, type, path, uid, gid, size, mode, mtime ({"struct_type":"node",...}).

EXIT STATUS
  0   success
  1   fatal error, or the path is not in the snapshot
  2   usage error (a relative path)
  10  the repository does not exist
  12  wrong password
  13  a tree could not be read back intact`,
    )
    .action(async (ref: string, path: string | undefined, o: LsFlags, c: Command) => {
      const s = Session.of(rt, c);
      const from = path ?? '/';
      if (!from.startsWith('/')) {
        throw new LifeboatError('USAGE', `"${from}" is not an absolute path`, { hint: 'snapshot paths are absolute, as they were backed up, e.g. /home/ann' });
      }
      await s.withRepo(
        async (repo) => {
          const snap = await pickSnapshot(s, repo, ref, filterFrom(o));
          const src = snap.source as Partial<LogicalSource>;
          if (path === undefined && src.kind === 'postgres' && src.mode === 'logical' && src.database) {
            // A database dump lists its tables; a path lists the dump's files.
            const db = src.database;
            s.out.emit({ id: snap.id, short_id: snap.short_id, time: snap.time, database: db.name, server_version: db.server_version, struct_type: 'snapshot', message_type: 'snapshot' });
            for (const t of db.tables) s.out.emit({ schema: t.schema, name: t.name, rows: t.rows ?? null, bytes: t.bytes, indexes: t.indexes, struct_type: 'table', message_type: 'table' });
            s.out.print(`database ${db.name} (PostgreSQL ${db.server_version}), ${db.tables.length} tables:`);
            s.out.print(formatTable(['Table', 'Rows', 'Size', 'Indexes'], db.tables.map((t) => [`${t.schema}.${t.name}`, String(t.rows ?? '?'), formatBytes(t.bytes), String(t.indexes.length)])));
            return;
          }
          await repo.loadIndex({ signal: s.signal });
          const node = await findNode(repo, snap.tree, from, s.signal);
          if (!node) throw new NotFoundError(`${from} is not in snapshot ${snap.short_id}`, { hint: `\`lifeboat ls ${snap.short_id}\` lists what it holds` });
          s.out.emit({ time: snap.time, tree: snap.tree, paths: snap.paths, hostname: snap.hostname, username: snap.username, id: snap.id, short_id: snap.short_id, struct_type: 'snapshot', message_type: 'snapshot' });
          const show = (e: WalkEntry): void => {
            s.out.emit(nodeJson(e));
            s.out.print(o.long ? longLine(e) : e.path);
          };
          const prefix = from.replace(/\/+$/, '');
          if (node.type !== 'dir' || !node.subtree) {
            show({ path: prefix, node });
            return;
          }
          await walkTree(repo, node.subtree, show, {
            prefix,
            signal: s.signal,
            onUnsafe: (parent, n) => s.out.warn(`${parent}: entry with an unsafe name ${JSON.stringify(n.name)} not shown`),
          });
        },
        { lock: 'read', purpose: 'ls' },
      );
    });
}
