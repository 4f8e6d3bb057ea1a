/** `lifeboat prune`: free the space of data no snapshot uses. */
import type { Command } from 'commander';
import { prune, type PruneResult } from '../../repo/index.ts';
import { pruneWal } from '../../sources/postgres/index.ts';
import { Session, type Runtime } from '../context.ts';
import { formatBytes, phaseProgressView, snakeKeys, withProgress } from '../output.ts';

export function printPruneResult(s: Session, r: PruneResult): void {
  const would = r.dryRun ? 'would ' : '';
  s.out.print(`${r.dryRun ? '[dry run] ' : ''}${r.packsBefore} packs (${formatBytes(r.bytesBefore)}) before prune`);
  s.out.print(`${would}remove ${r.packsRemoved} unused packs and ${r.unindexedPacksRemoved} unindexed packs, ${would}repack ${r.packsRepacked} partly used packs`);
  s.out.print(`${would}remove ${r.blobsRemoved} chunks, ${would}free ${formatBytes(r.bytesFreed)}`);
  if (r.tempFilesRemoved > 0) s.out.print(`removed ${r.tempFilesRemoved} temp files left by interrupted writes`);
}

/** WAL retention after a prune: archived WAL older than each cluster's oldest kept base backup. */
export async function pruneWalAndPrint(s: Session, repo: Parameters<typeof pruneWal>[0], dryRun: boolean): Promise<Array<{ system_identifier: string; removed: string[] }>> {
  const wal = await pruneWal(repo, { dryRun, signal: s.signal });
  for (const c of wal) {
    if (c.removed.length) s.out.print(`${dryRun ? 'would remove' : 'removed'} ${c.removed.length} WAL files of cluster ${c.system_identifier} older than its oldest base backup`);
  }
  return wal;
}

export function registerPrune(program: Command, rt: Runtime): void {
  program
    .command('prune')
    .summary('remove data that no snapshot uses')
    .description(
      'Remove the data no snapshot uses any more (after `lifeboat forget`, or left by interrupted backups). ' +
        'Packs holding only unused chunks are deleted; packs with a small share still in use are rewritten with only what is used. ' +
        'prune holds the repository exclusively while it runs, so no backup can start meanwhile and nothing a running backup needs is removed. ' +
        'It stops, removing nothing, if any snapshot or index file cannot be read: run `lifeboat check` first.',
    )
    .option('-n, --dry-run', 'only show what would be removed')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup prune --dry-run
  lifeboat prune
  lifeboat forget --keep-daily 7 --prune      # forget and prune in one go

OUTPUT
  Human: packs before, packs removed and repacked, chunks removed, space freed, and temp files removed that
  writes cut short by a crash left (older than a stale lock).
  --json: {"dry_run", "packs_before", "packs_removed", "packs_repacked", "packs_written",
  "unindexed_packs_removed", "blobs_removed", "bytes_before", "bytes_freed", "index_files_replaced",
  "temp_files_removed"}.

EXIT STATUS
  0   success
  1   fatal error
  10  the repository does not exist
  11  the repository is locked (prune needs it to itself)
  12  wrong password
  13  prune stopped because a snapshot, index file or pack is damaged (run \`lifeboat check\`)`,
    )
    .action(async (o: { dryRun?: boolean }, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(async (repo) => {
        const view = phaseProgressView(s.out, { mark: 'trees', repack: 'packs', delete: 'packs' });
        const result = await withProgress(view, () => prune(repo, { ...(o.dryRun ? { dryRun: true } : {}), signal: s.signal, onProgress: view.update }));
        printPruneResult(s, result);
        const wal = await pruneWalAndPrint(s, repo, o.dryRun === true);
        s.out.emit({ ...snakeKeys(result), wal_removed: wal });
      });
    });
}
