/** `lifeboat key list|add|remove|passwd`: the passwords that open a repository. */
import type { Command } from 'commander';
import { LifeboatError, NotFoundError } from '../../core/index.ts';
import { listKeys, removeKey, type KeyInfo } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { formatTable, formatTime } from '../output.ts';
import { readNewPassword } from '../password.ts';

const exitStatus = `
EXIT STATUS
  0   success
  1   fatal error
  2   usage error (e.g. removing the key in use, an unknown or ambiguous key id)
  10  the repository does not exist
  12  wrong password`;

/** A key id or a unique prefix of one, as `key list` shows them. */
function resolveKey(keys: KeyInfo[], ref: string): KeyInfo {
  // TODO(library): a `resolveKey(keys, prefix)` beside resolveSnapshot would keep this out of the CLI.
  const hits = keys.filter((k) => k.id.startsWith(ref));
  if (ref.length < 4 || hits.length > 1) {
    throw new LifeboatError('USAGE', `key id ${ref} is ${ref.length < 4 ? 'too short' : `ambiguous (${hits.length} keys match)`}`, {
      hint: 'give more characters of the id; `lifeboat key list` shows them',
    });
  }
  const hit = hits[0];
  if (!hit) throw new NotFoundError(`no key ${ref}`, { hint: '`lifeboat key list` shows the keys' });
  return hit;
}

export function registerKey(program: Command, rt: Runtime): void {
  const key = program
    .command('key')
    .summary('manage the passwords of a repository')
    .description('Manage the passwords (keys) that open a repository. Every key unlocks the same data; adding or removing one never touches the backed-up data.')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat key list
  lifeboat key add --new-password-file /root/second-password
  lifeboat key remove 3f9a1c2e
  lifeboat key passwd
${exitStatus}`,
    );

  key
    .command('list')
    .summary('list the keys')
    .description('List the keys of the repository. The key used to open it is marked with *.')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup key list
  lifeboat -r /srv/backup --json key list   # [{"id":..., "current":true, "username":..., "hostname":..., "created":...}]
${exitStatus}`,
    )
    .action(async (_o: unknown, cmd: Command) => {
      const s = Session.of(rt, cmd);
      await s.withRepo(async (repo) => {
        const keys = await listKeys(repo.backend, repo.keyId);
        s.out.emit(keys.map((k) => ({ id: k.id, current: k.current, username: k.username, hostname: k.hostname, created: k.created })));
        s.out.print(
          formatTable(
            [' ID', 'User', 'Host', 'Created'],
            keys.map((k) => [`${k.current ? '*' : ' '}${k.id.slice(0, 8)}`, k.username, k.hostname, formatTime(k.created)]),
          ),
        );
      });
    });

  key
    .command('add')
    .summary('add a password')
    .description(
      'Add a password. The new password comes from --new-password-file, else LIFEBOAT_NEW_PASSWORD, else it is asked twice on a terminal. The repository is opened with the current password as usual.',
    )
    .option('--new-password-file <file>', 'read the new password from FILE (one trailing newline is dropped)')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat key add --new-password-file /root/colleague-password
  LIFEBOAT_NEW_PASSWORD=... lifeboat key add
${exitStatus}`,
    )
    .action(async (o: { newPasswordFile?: string }, cmd: Command) => {
      const s = Session.of(rt, cmd);
      await s.withRepo(async (repo) => {
        const id = await repo.addPassword(await readNewPassword(o.newPasswordFile, rt.env));
        s.out.emit({ message_type: 'key_added', id });
        s.out.print(`saved new key ${id.slice(0, 8)}`);
      });
    });

  key
    .command('remove')
    .summary('remove a key')
    .argument('<id>', 'key id, or a unique prefix of at least 4 characters (see `key list`)')
    .description('Remove a key: its password no longer opens the repository. The key in use cannot be removed.')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat key remove 3f9a1c2e
${exitStatus}`,
    )
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const s = Session.of(rt, cmd);
      await s.withRepo(async (repo) => {
        const k = resolveKey(await listKeys(repo.backend, repo.keyId), ref);
        await removeKey(repo.backend, k.id, repo.keyId);
        s.out.emit({ message_type: 'key_removed', id: k.id });
        s.out.print(`removed key ${k.id.slice(0, 8)}`);
      });
    });

  key
    .command('passwd')
    .summary('change the password in use')
    .description(
      'Change the password in use: a key with the new password is added, then the current key is removed. The new password comes from --new-password-file, else LIFEBOAT_NEW_PASSWORD, else it is asked twice.',
    )
    .option('--new-password-file <file>', 'read the new password from FILE (one trailing newline is dropped)')
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat key passwd
  lifeboat --password-file old.txt key passwd --new-password-file new.txt
${exitStatus}`,
    )
    .action(async (o: { newPasswordFile?: string }, cmd: Command) => {
      const s = Session.of(rt, cmd);
      await s.withRepo(async (repo) => {
        // TODO(library): a `changePassword(repo, password)` would make add-then-remove one documented step.
        const newId = await repo.addPassword(await readNewPassword(o.newPasswordFile, rt.env));
        await removeKey(repo.backend, repo.keyId, newId);
        s.out.emit({ message_type: 'password_changed', id: newId, removed: repo.keyId });
        s.out.print(`password changed: new key ${newId.slice(0, 8)}, removed key ${repo.keyId.slice(0, 8)}`);
      });
    });
}
