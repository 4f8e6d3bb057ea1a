/** `lifeboat init`: create a repository. */
import type { Command } from 'commander';
import { LocalBackend } from '../../repo/backend/index.ts';
import { Repository } from '../../repo/index.ts';
import { Session, type Runtime } from '../context.ts';
import { readInitPassword } from '../password.ts';

export function registerInit(program: Command, rt: Runtime): void {
  program
    .command('init')
    .summary('create a new repository')
    .description(
      'Create a new, empty repository at the location given with -r / LIFEBOAT_REPOSITORY. The folder is created ' +
        'if needed; an existing folder must be empty. The password (from --password-file, LIFEBOAT_PASSWORD_COMMAND, ' +
        'LIFEBOAT_PASSWORD, or asked twice on a terminal) becomes the first key. Without a password the data cannot ' +
        'be read by anyone, including you: keep it somewhere safe. More passwords can be added with `lifeboat key add`.',
    )
    .addHelpText(
      'after',
      `
EXAMPLES
  lifeboat -r /srv/backup init
  LIFEBOAT_PASSWORD_FILE=/etc/lifeboat/pw lifeboat -r /mnt/usb/repo init
  lifeboat -r /srv/backup --json init     # {"message_type":"initialized","id":"...","repository":"..."}

EXIT STATUS
  0   the repository was created; its id is printed
  1   a repository already exists there, or the folder holds other files
  2   no repository location given`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const s = Session.of(rt, cmd);
      const path = s.repoPath();
      const password = await readInitPassword({ passwordFile: s.opts.passwordFile, env: rt.env });
      const repo = await Repository.init(new LocalBackend(path), password);
      try {
        s.out.emit({ message_type: 'initialized', id: repo.config.id, repository: repo.backend.location });
        s.out.print(`created Lifeboat repository ${repo.config.id.slice(0, 10)} at ${repo.backend.location}`);
        s.out.print('');
        s.out.print('Please note that knowledge of your password is required to access the repository.');
        s.out.print('Losing your password means that your data is irrecoverably lost.');
      } finally {
        await repo.backend.close();
      }
    });
}
