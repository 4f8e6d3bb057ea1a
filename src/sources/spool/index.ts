/**
 * Staging folders: where a database source keeps a copy or a dump while the archiver stores it, as large
 * as the database. The process that makes one removes it when done; a process that dies first (SIGKILL,
 * the OOM killer, a power cut) cannot, and a crash loop would fill the disk. So each folder's name says
 * who owns it, `<prefix><pid>.<start>.<pidns>-XXXXXX` (start: the process's start time in clock ticks
 * since boot, from /proc; pidns: its pid namespace), and `sweepStaged` removes the folders whose owner is
 * gone: no process has that pid, or the one that has it started at another time (the pid was reused,
 * or the machine rebooted).
 *
 * Never removed: a folder of a live process; one of a process in another pid namespace (a container
 * sharing the temp folder: its pids mean nothing here); one of another user; anything that is not a
 * plain folder (a symlink is not followed); a name that does not parse (made by an older Lifeboat, or
 * not ours). Without /proc, start and namespace read 0 and only the pid is checked.
 */
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../core/index.ts';

/** A process's start time (field 22 of /proc/PID/stat), undefined when it cannot be read. */
function startTime(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = fields[22 - 3];
    return v !== undefined && /^\d+$/.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '0';
  } catch {
    return '0';
  }
}

let self: { start: string; ns: string } | undefined;

/** This process as a staging folder names it (read once: neither changes while it runs). */
function me(): { start: string; ns: string } {
  self ??= { start: startTime('self') ?? '0', ns: pidNamespace() };
  return self;
}

/** Whether the process that made a folder still runs; when in doubt, it does. */
function ownerAlive(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoCode(err) === 'ESRCH') return false;
    // EPERM: a process of another user has the pid; its start time tells whether it is the owner.
  }
  if (start === '0') return true;
  const now = startTime(pid);
  // Unreadable: gone between the two looks, or /proc hides it; left for the next sweep.
  return now === undefined || now === start;
}

/** Make a staging folder in `parent` named for this process. */
export function makeStaged(parent: string, prefix: string): string {
  const { start, ns } = me();
  return mkdtempSync(join(parent, `${prefix}${process.pid}.${start}.${ns}-`));
}

/**
 * Remove the staging folders in `parent` with this prefix whose owner is gone (see the module notes);
 * returns their names. Best effort: a folder that cannot be read or removed is left for the next sweep.
 * The removal is asynchronous: unlinking a copy of a large database takes long enough to stall a daemon.
 */
export async function sweepStaged(parent: string, prefix: string): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const { start: myStart, ns: myNs } = me();
  const uid = process.getuid?.();
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.(\d+)\.(\d+)-[A-Za-z0-9]{6}$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    const start = m[2]!;
    if (m[3] !== myNs || !Number.isSafeInteger(pid) || pid <= 0) continue;
    if (pid === process.pid && start === myStart) continue; // ours, in use
    const path = join(parent, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      if (ownerAlive(pid, start)) continue;
      // Recursive removal unlinks symlinks inside; it never follows them.
      await rm(path, { recursive: true, force: true });
      removed.push(name);
    } catch {
      /* gone already (another sweeper), or not ours to remove after all */
    }
  }
  return removed;
}
