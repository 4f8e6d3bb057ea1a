/** `lifeboat check`: is every snapshot restorable, and is the stored data intact? */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { runCheck } from '../../jobs/index.ts';
import { prestartVerifyWorkers, type CheckProblem } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { ExitCode } from '../exit-codes.ts';
import { phaseProgressView, snakeKeys, withProgress } from '../output.ts';

/** "10%" → 0.1. */
function parsePercent(value: string): number {
  const m = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  const n = m ? Number(m[1]) : NaN;
  if (!(n > 0 && n <= 100)) throw new InvalidArgumentError('give a percentage between 0 and 100, e.g. 10%');
  return n / 100;
}

function describeProblem(p: CheckProblem): string[] {
  const lines = [`${p.kind} ${p.id.slice(0, 16)}: ${p.message}`];
  if (p.snapshots?.length) lines.push(`  affects snapshots: ${p.snapshots.join(', ')}`);
  if (p.files?.length) {
    lines.push('  affects files:');
    for (const f of p.files) lines.push(`    ${f}`);
  }
  return lines;
}

export function registerCheck(program: Command, rt: Runtime): void {
  program
    .command('check')
    .summary('check the repository for damage')
    .description(
      'Check that every snapshot can be restored: the index, every snapshot, every tree reachable from them, and that every chunk they name is in the index and its pack is there. ' +
        'With --read-data, also read every pack and verify every chunk in it (decrypt, decompress, re-hash); --read-data-subset reads a random share of the packs, so a weekly run with 10% reads everything every few months. ' +
        'Each problem names what is damaged, and the snapshots and files that a restore would miss because of it.',
    )
    .option('--read-data', 'read and verify all stored data (reads the whole repository)')
    .addOption(new Option('--read-data-subset <n%>', 'read and verify this share of the packs, chosen at random, e.g. 10%').argParser(parsePercent).conflicts('readData'))
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup check
  lifeboat check --read-data-subset 10%
  lifeboat check --read-data
  lifeboat --json check | jq '.problems[] | {kind, snapshots, files}'

OUTPUT
  Human: one block per problem (what is damaged, the affected snapshots and files), then a verdict.
  --json: {"ok", "problems": [{"kind","id","message","snapshots","files","hint"}], "notes", "packs", "packs_read",
  "snapshots", "trees", "blobs"}.

EXIT STATUS
  0   no problem found
  1   fatal error (the check itself could not run)
  2   usage error
  10  the repository does not exist
  11  the repository is locked exclusively (prune running)
  12  wrong password
  13  problems were found; each is listed with the snapshots and files it affects, and how to repair it
      (see \`lifeboat repair --help\` for the order to do it in)`,
    )
    .action(async (o: { readData?: boolean; readDataSubset?: number }, c: Command) => {
      const s = Session.of(rt, c);
      // Reading all data: the workers boot while the key is derived (a subset may be one pack, read inline).
      if (o.readData) prestartVerifyWorkers();
      await s.withRepo(
        async (repo) => {
          const view = phaseProgressView(s.out, { index: 'index files', data: 'packs', trees: 'trees' });
          const { repository: result, wal } = await withProgress(view, () =>
            runCheck(repo, {
              ...(o.readData ? { readData: true } : {}),
              ...(o.readDataSubset !== undefined ? { readDataSubset: o.readDataSubset } : {}),
              signal: s.signal,
              onProgress: view.update,
            }),
          );
          const walProblems = wal.reduce((a, w) => a + w.gaps.length + w.damaged.length, 0);
          s.out.emit({ ...snakeKeys(result), wal_archives: wal });
          for (const note of result.notes) s.out.print(`note: ${note}`);
          for (const w of wal) {
            s.out.print(`WAL archive of cluster ${w.system_identifier}: ${w.files} files, ${w.base_backups} base backup(s)${w.gaps.length || w.damaged.length ? '' : ', no gaps'}`);
            for (const g of w.gaps) s.out.print(`  gap: ${g.from} .. ${g.to} missing (${g.reason}): point-in-time recovery cannot pass it`);
            for (const d of w.damaged) s.out.print(`  damaged: ${d.file}: ${d.error}`);
          }
          if (walProblems > 0) {
            s.exitWith(ExitCode.integrity);
            s.out.warn(`${walProblems} problem${walProblems === 1 ? '' : 's'} in the WAL archive`);
          }
          for (const p of result.problems) for (const line of describeProblem(p)) s.out.print(line);
          // Each way to repair once, after the problems (81 lost chunks are one repair, not 81).
          const hints = [...new Set(result.problems.flatMap((p) => (p.hint ? [p.hint] : [])))];
          if (hints.length) s.out.print('');
          for (const h of hints) s.out.print(`to repair: ${h}`);
          const read = result.packsRead > 0 ? `, read and verified ${result.packsRead} of ${result.packs} packs` : '';
          s.out.print(`checked ${result.snapshots} snapshots, ${result.trees} trees, ${result.blobs} chunk references, ${result.packs} packs${read}`);
          if (result.ok) {
            if (walProblems === 0) s.out.print('no problems found');
            return;
          }
          s.exitWith(ExitCode.integrity);
          // Problems go to stdout (they are the result); the verdict also to stderr, so -q still says it.
          s.out.warn(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} found`);
        },
      );
    });
}
