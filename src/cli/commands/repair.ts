/** `lifeboat repair index | snapshots`: put a damaged repository back into a state every command can use. */
import type { Command } from 'commander';
import { rebuildIndex, repairSnapshots } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { phaseProgressView, snakeKeys, withProgress } from '../output.ts';
import { addFilterOptions, allSnapshots, filterFrom, type FilterOptions } from '../snapshot-args.ts';
import { matchesFilter, resolveSnapshot, type SnapshotEntry } from '../../repo/index.ts';

const ORDER = `
REPAIRING A DAMAGED REPOSITORY
  1. lifeboat check --read-data       find what is damaged, and which snapshots and files it affects
  2. lifeboat repair index --read-data
                                      index only data that is really there and intact
  3. lifeboat backup ...              back up again what still exists: lost data is stored anew,
                                      and every older snapshot that names it is whole again
  4. lifeboat repair snapshots        rewrite the snapshots that still miss something, saying what
  5. lifeboat check                   confirm; then \`lifeboat prune\` frees what is unused`;

export function registerRepair(program: Command, rt: Runtime): void {
  const repair = program
    .command('repair')
    .summary('repair a damaged repository: its index, its snapshots')
    .description('Repair what `lifeboat check` reports. Each subcommand is safe to interrupt and to run again.')
    .addHelpText('after', ORDER);

  repair
    .command('index')
    .summary('rebuild the index from the packs themselves')
    .description(
      'Rebuild the index from the headers of the packs (every pack lists the chunks it holds) and replace every index file. ' +
        'A damaged or lost index file is replaced, chunks of packs that are gone or whose header is damaged leave the index, ' +
        'so the next backup stores that data again instead of counting on it. With --read-data every pack is read whole and ' +
        'every chunk verified: a damaged chunk leaves the index too, and the intact chunks of a damaged pack (found through its header, ' +
        'or through the old index when the header is what is damaged) are copied into new packs before the damaged pack is removed. ' +
        'Holds the repository exclusively. New index files are written before any old one is removed, so an interrupted ' +
        'run loses nothing; run it again to finish.',
    )
    .option('--read-data', 'read and verify every chunk, and index only those that are intact (reads the whole repository)')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup repair index
  lifeboat repair index --read-data        # after check --read-data found damaged packs

OUTPUT
  Human: packs and chunks indexed, packs left out with why, entries dropped, index files replaced.
  --json: {"packs", "blobs", "damaged", "damaged_reasons": [{"pack","reason"}], "damaged_blobs": [{"pack","id","reason"}],
  "salvaged": [{"pack","blobs"}], "kept_unverified": [{"pack","reason"}], "entries_dropped", "index_files_removed",
  "index_files_written"}.

EXIT STATUS
  0   the index describes every readable pack
  1   fatal error
  3   done, but some packs or chunks are damaged: left out, or (a damaged header) kept as the old index
      described them until --read-data verifies them (listed)
  10  the repository does not exist
  11  the repository is locked (repair needs it to itself)
  12  wrong password
${ORDER}`,
    )
    .action(async (o: { readData?: boolean }, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(
        async (repo) => {
          const view = phaseProgressView(s.out, { packs: 'packs' });
          const r = await withProgress(view, () =>
            rebuildIndex(repo, { ...(o.readData ? { readData: true } : {}), signal: s.signal, onProgress: (p) => view.update({ phase: 'packs', ...p }) }),
          );
          s.out.emit(snakeKeys(r));
          for (const d of r.damagedReasons) s.out.print(`pack ${d.pack}: left out: ${d.reason}`);
          for (const d of r.damagedBlobs) s.out.print(`pack ${d.pack}: chunk ${d.id} left out: ${d.reason}`);
          for (const x of r.salvaged) s.out.print(`pack ${x.pack}: ${x.blobs} intact chunk(s) copied into new packs; the damaged pack was removed`);
          for (const x of r.keptUnverified) s.out.print(`pack ${x.pack}: its header cannot be read (${x.reason}); kept as the old index described it: \`lifeboat repair index --read-data\` verifies it and salvages what is intact`);
          s.out.print(`indexed ${r.packs} packs (${r.blobs} chunks) in ${r.indexFilesWritten} new index file(s); removed ${r.indexFilesRemoved} old one(s)`);
          if (r.entriesDropped > 0) {
            s.out.print(`${r.entriesDropped} index entries named data that is lost or damaged: the next backup stores it again where it still exists`);
            s.out.print('then `lifeboat repair snapshots` rewrites the snapshots that still miss something');
          }
          if (r.damaged.length > 0 || r.damagedBlobs.length > 0 || r.keptUnverified.length > 0) s.exitWith(ExitCode.partial);
        },
        { lock: 'exclusive', purpose: 'repair' },
      );
    });

  const snaps = repair
    .command('snapshots')
    .summary('rewrite snapshots that miss data, saying what was lost')
    .argument('[snapshot...]', 'snapshots to repair (ids or prefixes; default: all that need it)')
    .description(
      'Write, for each snapshot that cannot be restored whole, a repaired one that can: files whose chunks are lost are left out, ' +
        'a folder whose listing cannot be read becomes an empty folder marked incomplete, entries a restore refuses are left out ' +
        '(a symlink that holds entries, written by older backups of a path below a symlinked folder, becomes the folder it stood for). ' +
        'The repaired snapshot keeps the time, host and paths, gets the tag "repaired", names the original and lists what was lost. ' +
        'It judges by the index: run `lifeboat repair index` first, and back up again what still exists (that heals snapshots ' +
        'without losing anything). The originals stay unless --forget is given.',
    )
    .option('--forget', 'remove each original once its repaired snapshot is saved, and snapshot files that cannot be read')
    .option('-n, --dry-run', 'only show what would be repaired');
  addFilterOptions(snaps, 'repair snapshots')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup repair snapshots --dry-run
  lifeboat repair snapshots --forget
  lifeboat repair snapshots 3f9a1c2e --host web1

OUTPUT
  Human: per repaired snapshot, the new id and the paths lost with why; then a summary.
  --json: {"repaired": [{"original", "id", "lost": [{"path","reason"}], "lost_count", "converted"}], "intact",
  "unreadable": [{"id","reason","removed"}], "forgotten": [id]}.

EXIT STATUS
  0   every snapshot is restorable (repaired or intact)
  1   fatal error
  2   usage error
  3   some snapshot files cannot be read and were kept (remove them with --forget or \`lifeboat forget ID\`)
  10  the repository does not exist
  11  the repository is locked (repair needs it to itself)
  12  wrong password
${ORDER}`,
    )
    .action(async (refs: string[], o: FilterOptions & { forget?: boolean; dryRun?: boolean }, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(
        async (repo) => {
          await repo.loadIndex({ signal: s.signal });
          const damaged: string[] = [];
          const all = await allSnapshots(s, repo, damaged);
          const filter = filterFrom(o);
          const chosen: SnapshotEntry[] = refs.length ? refs.map((r) => resolveSnapshot(all, r, filter, damaged)) : all.filter((x) => matchesFilter(x, filter));
          const view = phaseProgressView(s.out, { snapshots: 'snapshots' });
          const r = await withProgress(view, () =>
            repairSnapshots(repo, {
              snapshots: chosen,
              ...(o.forget ? { forget: true } : {}),
              ...(o.dryRun ? { dryRun: true } : {}),
              signal: s.signal,
              onProgress: (p) => view.update({ phase: 'snapshots', ...p }),
            }),
          );
          // Unreadable snapshot files are the library's to remove only when every snapshot was considered.
          const unreadable = refs.length ? [] : damaged.map((id) => ({ id, reason: 'cannot be read', removed: false }));
          if (o.forget && !o.dryRun && refs.length === 0) {
            for (const u of unreadable) {
              await repo.backend.remove({ type: 'snapshot', name: u.id });
              u.removed = true;
            }
          }
          s.out.emit({ ...snakeKeys({ ...r, unreadable }), repaired: r.repaired.map((x) => snakeKeys(x)) });
          const would = o.dryRun ? 'would write' : 'wrote';
          for (const x of r.repaired) {
            s.out.print(`snapshot ${x.original.slice(0, 8)}: ${would} ${x.id ? `repaired snapshot ${x.id.slice(0, 8)}` : 'a repaired snapshot'}; ${x.lostCount} entr${x.lostCount === 1 ? 'y' : 'ies'} lost`);
            for (const l of x.lost) s.out.print(`  lost ${l.path}: ${l.reason}`);
            if (x.lostCount > x.lost.length) s.out.print(`  … and ${x.lostCount - x.lost.length} more`);
            for (const p of x.converted) s.out.print(`  ${p}: a symlink holding entries, now the folder it stood for`);
          }
          for (const u of unreadable) s.out.print(`snapshot ${u.id.slice(0, 8)}: the file cannot be read${u.removed ? '; removed' : ''}`);
          s.out.print(`${r.repaired.length} snapshot(s) ${o.dryRun ? 'need' : 'were'} repaired, ${r.intact} intact${r.forgotten.length ? `, ${r.forgotten.length} original(s) removed` : ''}`);
          if (r.repaired.length && !o.forget && !o.dryRun) s.out.print('the originals are kept: `lifeboat repair snapshots --forget` would have removed them; `lifeboat forget ID` does it now');
          if (unreadable.some((u) => !u.removed)) s.exitWith(ExitCode.partial);
        },
        { lock: 'exclusive', purpose: 'repair' },
      );
    });
}
