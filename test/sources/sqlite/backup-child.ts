/**
 * An SQLite backup in a process of its own, to be killed half-way:
 *   node --import tsx test/sources/sqlite/backup-child.ts REPO_DIR DATABASE SPOOL
 */
import { LocalBackend } from '../../../src/repo/backend/index.ts';
import { Repository } from '../../../src/repo/index.ts';
import { backupSqlite } from '../../../src/sources/sqlite/index.ts';
import { PASSWORD } from '../../helpers/repo.ts';

const [repoDir, file, spool] = process.argv.slice(2);
const repo = await Repository.open(new LocalBackend(repoDir!), PASSWORD);
const r = await backupSqlite(repo, { file: file!, spool: spool! });
process.stdout.write(JSON.stringify({ id: r.id }) + '\n');
