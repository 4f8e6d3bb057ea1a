/**
 * Restores that need more than one source's own call: files of a group's snapshot (what the daemon's API
 * offers), and the `restore_command` a recovering PostgreSQL runs to fetch WAL from this repository (this
 * very program, the repository, a way to its password).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LifeboatError } from '../core/index.ts';
import { loadSnapshots, resolveSnapshot, type Repository, type SnapshotEntry } from '../repo/index.ts';
import { restoreFiles, type RestoreResult } from '../sources/files/index.ts';

/** Quote for /bin/sh (PostgreSQL runs restore_command with it). */
export function shq(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How to start this Lifeboat from a shell: the installed entry script on a plain node, else the running script. */
export function selfCommand(): string {
  // bin/lifeboat.js beside the src/ or dist/ this code runs from.
  const root = /^(.*)[/\\](?:src|dist)[/\\]/.exec(fileURLToPath(import.meta.url))?.[1];
  const bin = root === undefined ? '' : join(root, 'bin', 'lifeboat.js');
  return `${shq(process.execPath)} ${shq(bin && existsSync(bin) ? bin : resolve(process.argv[1] ?? 'lifeboat'))}`;
}

/**
 * `lifeboat wal fetch` for the recovering server: the password goes by file or by command, never in the
 * command line itself (PostgreSQL logs restore_command).
 */
export function walRestoreCommand(opts: { repo: string; passwordFile?: string; passwordCommand?: string }): string {
  const repoArg = shq(resolve(opts.repo));
  const self = selfCommand();
  if (opts.passwordFile !== undefined) return `${self} -q -r ${repoArg} --password-file ${shq(resolve(opts.passwordFile))} wal fetch %f "%p"`;
  if (opts.passwordCommand) return `LIFEBOAT_PASSWORD_COMMAND=${shq(opts.passwordCommand)} ${self} -q -r ${repoArg} wal fetch %f "%p"`;
  throw new LifeboatError('USAGE', 'the recovering server needs the repository password to fetch WAL, and none can be written into its restore_command', {
    hint: 'give the password with --password-file FILE (readable by the postgres user) or LIFEBOAT_PASSWORD_COMMAND, or pass --restore-command',
  });
}

/**
 * Files and folders of a snapshot (of a group, when given) into `target`: `latest`, an id or a prefix. Only
 * snapshots of files and SQLite files: a database dump is restored into a database, with its own command.
 */
export async function restoreSnapshotFiles(
  repo: Repository,
  opts: { group?: string; snapshot: string; target: string; include?: string[]; noFollowTarget?: boolean; signal?: AbortSignal },
): Promise<{ snapshot: SnapshotEntry; result: RestoreResult }> {
  const all = await loadSnapshots(repo, opts.signal ? { signal: opts.signal } : {});
  const snap = resolveSnapshot(all, opts.snapshot, opts.group !== undefined ? { group: opts.group } : {});
  if (snap.source.kind !== 'files' && snap.source.kind !== 'sqlite') {
    throw new LifeboatError('USAGE', `snapshot ${snap.short_id} is a ${snap.source.kind} backup: restore it with \`lifeboat restore\` (a database is restored into a database)`);
  }
  const result = await restoreFiles(repo, snap, {
    target: opts.target,
    ...(opts.noFollowTarget ? { noFollowTarget: true } : {}),
    ...(opts.include?.length ? { include: opts.include } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  return { snapshot: snap, result };
}
