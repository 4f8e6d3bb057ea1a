/**
 * `repositories:` — the repositories backups go to, by name. Each is a local folder today (`path:`) with its
 * password from `password_file`, `password_env` or, warned about, `password` written inline.
 */
import type { Path, Reader } from './reader.ts';
import type { RepositoryConfig } from './types.ts';

export function readRepositories(r: Reader, v: unknown): RepositoryConfig[] {
  const P: Path = ['repositories'];
  return Object.entries(r.named(v, P, 'repository')).map(([name, x]) => {
    const rp = [...P, name];
    const m = r.map(x, rp, ['path', 'password_file', 'password_env', 'password']);
    const path = r.path(m['path'], [...rp, 'path'], 'the repository folder');
    const password = r.secret(m, rp, 'password', { required: true, inline: true, what: 'repository password' })!;
    return { name, path, password };
  });
}
