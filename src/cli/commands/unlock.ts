/** `lifeboat unlock`: remove stale locks. */
import type { Command } from 'commander';
import { removeLocks } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';

export function registerUnlock(program: Command, rt: Runtime): void {
  program
    .command('unlock')
    .summary('remove stale locks')
    .description(
      'Remove stale locks: locks not refreshed for 30 minutes, or held by a process on this host that no longer ' +
        'runs. Stale locks never block other commands, so this is housekeeping. --remove-all also removes locks ' +
        'of running processes: only do that when you are sure no other Lifeboat uses the repository.',
    )
    .option('--remove-all', 'remove every lock, including those of processes that may still be running')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup unlock
  lifeboat unlock --remove-all      # after making sure nothing else runs

EXIT STATUS
  0   success (also when there was nothing to remove)
  1   fatal error
  10  the repository does not exist
  12  wrong password`,
    )
    .action(async (o: { removeAll?: boolean }, c: Command) => {
      const s = Session.of(rt, c);
      await s.withRepo(async (repo) => {
        const removed = await removeLocks(repo, { all: o.removeAll === true });
        s.out.emit(removed.map((l) => ({ id: l.id, stale: l.stale, exclusive: l.exclusive, hostname: l.hostname, username: l.username, pid: l.pid, purpose: l.purpose ?? null, time: l.time, refreshed: l.refreshed })));
        for (const l of removed) {
          s.out.print(`removed ${l.stale ? 'stale ' : ''}${l.exclusive ? 'exclusive ' : ''}lock ${l.id.slice(0, 8)} (pid ${l.pid} on ${l.hostname}, ${l.purpose ?? 'unknown operation'}, since ${l.time})`);
        }
        if (removed.length === 0) s.out.print(o.removeAll ? 'no locks to remove' : 'no stale locks to remove');
        else s.out.print(`${removed.length} lock${removed.length === 1 ? '' : 's'} removed`);
      });
    });
}
