/**
 * The snapshot selection flags several commands share (`--host`, `--tag`, `--path`, `--group`), and resolving a
 * SNAPSHOT argument (`latest`, an id or a prefix) through the library.
 */
import type { Command } from 'commander';
import { loadSnapshots, resolveSnapshot, type Repository, type SnapshotEntry, type SnapshotFilter } from '../repo/index.ts';
import { collect, collectList, type Session } from './context.ts';

export interface FilterOptions {
  host?: string[];
  tag?: string[];
  path?: string[];
  group?: string;
}

export function addFilterOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--host <name>', `only ${what} from this host (repeatable: any of them)`, collect)
    .option('--tag <tag[,tag...]>', `only ${what} having all these tags (repeatable)`, collectList)
    .option('--path <path>', `only ${what} whose backed-up paths include this path (repeatable: all of them)`, collect)
    .option('--group <name>', `only ${what} of this protection group (lifeboat.yaml)`);
}

export function filterFrom(o: FilterOptions): SnapshotFilter {
  return {
    ...(o.host?.length ? { host: o.host } : {}),
    ...(o.tag?.length ? { tags: o.tag } : {}),
    ...(o.path?.length ? { paths: o.path } : {}),
    ...(o.group !== undefined ? { group: o.group } : {}),
  };
}

/**
 * Every snapshot, oldest first; a damaged snapshot file is reported as a warning and left out (its name is
 * added to `damaged` when given).
 */
export async function allSnapshots(s: Session, repo: Repository, damaged?: string[]): Promise<SnapshotEntry[]> {
  return loadSnapshots(repo, {
    signal: s.signal,
    onError: (id, err) => {
      damaged?.push(id);
      const message = err instanceof Error ? err.message : String(err);
      s.out.warn(`snapshot ${id} cannot be read, skipped: ${message}`, {
        message_type: 'error',
        error: { message },
        during: 'loading snapshots',
        item: id,
      });
    },
  });
}

export async function pickSnapshot(s: Session, repo: Repository, ref: string, filter: SnapshotFilter = {}): Promise<SnapshotEntry> {
  const damaged: string[] = [];
  const all = await allSnapshots(s, repo, damaged);
  return resolveSnapshot(all, ref, filter, damaged);
}
