/** `lifeboat forget`: remove snapshots by a retention policy (and, with --prune, the data they alone used). */
import { InvalidArgumentError, type Command } from 'commander';
import { forget, resolveSnapshot, type ForgetGroup, type GroupBy, type Repository, type RetentionPolicy, type SnapshotEntry } from '../../repo/index.ts';
import { collectList, Session, type Runtime } from '../context.ts';
import { formatTable, formatTime, phaseProgressView, snakeKeys, withProgress } from '../output.ts';
import { addFilterOptions, allSnapshots, filterFrom, type FilterOptions } from '../snapshot-args.ts';
import { snapshotJson } from './snapshots.ts';
import { printPruneResult, pruneWalAndPrint } from './prune.ts';

interface ForgetFlags extends FilterOptions {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
  keepTag?: string[][];
  groupBy: GroupBy;
  dryRun?: boolean;
  prune?: boolean;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < -1) throw new InvalidArgumentError('give a whole number of snapshots, or -1 for all');
  return n;
}

/** --keep-tag a,b --keep-tag c → [['a','b'], ['c']]: each flag is one set of tags that must all be present. */
function collectTagSet(value: string, previous: string[][] | undefined): string[][] {
  return [...(previous ?? []), collectList(value, [])];
}

/** "host,paths" → { host, paths, tags }; "" groups nothing (one policy over all snapshots). */
function parseGroupBy(value: string): GroupBy {
  const g: GroupBy = { host: false, paths: false, tags: false };
  for (const part of value.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    if (part === 'host' || part === 'paths' || part === 'tags') g[part] = true;
    else throw new InvalidArgumentError(`"${part}" is not one of host, paths, tags`);
  }
  return g;
}

function groupTitle(key: ForgetGroup['key']): string {
  const parts: string[] = [];
  if (key.hostname !== undefined) parts.push(`host [${key.hostname}]`);
  if (key.paths !== undefined) parts.push(`paths [${key.paths.join(', ')}]`);
  if (key.tags !== undefined) parts.push(`tags [${key.tags.join(', ')}]`);
  return parts.length ? `snapshots for (${parts.join(', ')})` : 'all snapshots';
}

const row = (s: SnapshotEntry): string[] => [s.short_id, formatTime(s.time), s.hostname, (s.tags ?? []).join(','), s.paths.join('\n')];

export function registerForget(program: Command, rt: Runtime): void {
  const cmd = program
    .command('forget')
    .summary('remove snapshots by a retention policy, or by id')
    .argument('[snapshot...]', 'remove these snapshots (ids or unique prefixes; also damaged snapshot files) instead of applying a policy')
    .description(
      'Remove the given snapshots, or apply a retention policy: within each group of snapshots (by default same host and paths), keep the ones a --keep-* rule selects and remove the others. ' +
        'The rules follow restic: --keep-daily 7 keeps the newest snapshot of each of the last 7 days that have snapshots, and so on for the other periods; ' +
        '--keep-within 1y6m keeps everything newer than that before the newest snapshot; --keep-tag keeps snapshots that have all the given tags. ' +
        'Periods are computed in UTC. Without snapshot ids, at least one rule is required. Forgetting removes only the snapshot records; the data they alone used is freed by prune (or --prune).',
    )
    .option('--keep-last <n>', 'keep the n newest snapshots', parseCount)
    .option('--keep-hourly <n>', 'keep the newest snapshot of each of the last n hours with snapshots', parseCount)
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last n days with snapshots', parseCount)
    .option('--keep-weekly <n>', 'keep the newest snapshot of each of the last n ISO weeks with snapshots', parseCount)
    .option('--keep-monthly <n>', 'keep the newest snapshot of each of the last n months with snapshots', parseCount)
    .option('--keep-yearly <n>', 'keep the newest snapshot of each of the last n years with snapshots', parseCount)
    .option('--keep-within <duration>', 'keep snapshots newer than this before the newest one, e.g. 7d, 1y6m, 36h (m = months)')
    .option('--keep-tag <tag[,tag...]>', 'keep snapshots having all these tags (repeatable: any of the sets)', collectTagSet)
    .option('--group-by <fields>', 'group snapshots by these of host, paths, tags ("" for one group)', parseGroupBy, { host: true, paths: true, tags: false })
    .option('-n, --dry-run', 'only show what would be removed')
    .option('--prune', 'prune afterwards: free the data no remaining snapshot uses');
  addFilterOptions(cmd, 'consider snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
  lifeboat forget 3f9a1c2e 77aa0b12                   # these two snapshots
  lifeboat forget --keep-last 10 --host web1 --prune
  lifeboat forget --keep-within 30d --keep-tag important --group-by host

OUTPUT
  Human: per group, the snapshots kept (with the reasons) and those removed; with --prune, the space freed.
  --json: {"dry_run", "groups": [{"key", "keep": [{"snapshot", "reasons"}], "remove": [snapshot]}], "removed": [id],
  "prune": {...}}.

EXIT STATUS
  0   success
  1   fatal error
  2   usage error (no keep rule, a bad count or duration)
  10  the repository does not exist
  11  the repository is locked (forget needs it to itself)
  12  wrong password`,
    )
    .action(async (refs: string[], o: ForgetFlags, c: Command) => {
      const s = Session.of(rt, c);
      const policy: RetentionPolicy = {
        ...(o.keepLast !== undefined ? { last: o.keepLast } : {}),
        ...(o.keepHourly !== undefined ? { hourly: o.keepHourly } : {}),
        ...(o.keepDaily !== undefined ? { daily: o.keepDaily } : {}),
        ...(o.keepWeekly !== undefined ? { weekly: o.keepWeekly } : {}),
        ...(o.keepMonthly !== undefined ? { monthly: o.keepMonthly } : {}),
        ...(o.keepYearly !== undefined ? { yearly: o.keepYearly } : {}),
        ...(o.keepWithin !== undefined ? { within: o.keepWithin } : {}),
        ...(o.keepTag?.length ? { tags: o.keepTag } : {}),
      };
      await s.withRepo(async (repo) => {
        const ids = refs.length ? await snapshotIds(s, repo, refs) : undefined;
        const view = phaseProgressView(s.out, { mark: 'trees', repack: 'packs', delete: 'packs' });
        const result = await withProgress(view, () =>
          forget(repo, policy, {
            ...(ids ? { ids } : {}),
            groupBy: o.groupBy,
            filter: filterFrom(o),
            ...(o.dryRun ? { dryRun: true } : {}),
            ...(o.prune ? { prune: { onProgress: view.update } } : {}),
            signal: s.signal,
          }),
        );
        // WAL retention follows the base backups that are kept (not on a dry run: nothing was forgotten).
        const wal = result.prune && !o.dryRun ? await pruneWalAndPrint(s, repo, false) : undefined;
        s.out.emit({
          ...(wal ? { wal_removed: wal } : {}),
          dry_run: o.dryRun === true,
          groups: result.groups.map((g) => ({
            key: g.key,
            keep: g.keep.map((k) => ({ snapshot: snapshotJson(k.snapshot), reasons: k.reasons })),
            remove: g.remove.map(snapshotJson),
          })),
          removed: result.removed,
          ...(result.prune ? { prune: snakeKeys(result.prune) } : {}),
        });
        for (const g of result.groups) {
          s.out.print(`${groupTitle(g.key)}:`);
          s.out.print(`keep ${g.keep.length} snapshot${g.keep.length === 1 ? '' : 's'}:`);
          s.out.print(formatTable(['ID', 'Time', 'Host', 'Tags', 'Paths', 'Reasons'], g.keep.map((k) => [...row(k.snapshot), k.reasons.join('\n')])));
          if (g.remove.length) {
            s.out.print(`${o.dryRun ? 'would remove' : 'remove'} ${g.remove.length} snapshot${g.remove.length === 1 ? '' : 's'}:`);
            s.out.print(formatTable(['ID', 'Time', 'Host', 'Tags', 'Paths'], g.remove.map(row)));
          }
          s.out.print('');
        }
        s.out.print(o.dryRun ? `[dry run] would remove ${result.removed.length} snapshot(s)` : `removed ${result.removed.length} snapshot(s)`);
        if (result.prune) printPruneResult(s, result.prune);
        else if (!o.dryRun && result.removed.length) s.out.print('the data only they used is still stored; `lifeboat prune` frees it');
      });
    });
}

/** Full ids of the given snapshots: readable ones by `resolveSnapshot`, damaged files by a unique prefix of their name. */
async function snapshotIds(s: Session, repo: Repository, refs: string[]): Promise<string[]> {
  const damaged: string[] = [];
  const all = await allSnapshots(s, repo, damaged);
  return refs.map((ref) => {
    const broken = /^[0-9a-f]{4,64}$/.test(ref) ? damaged.filter((id) => id.startsWith(ref)) : [];
    if (broken.length === 1 && !all.some((x) => x.id.startsWith(ref))) return broken[0]!;
    return resolveSnapshot(all, ref).id;
  });
}
