/**
 * A backup in a process of its own, for crash and concurrency tests:
 *   node --import tsx test/helpers/backup-child.ts REPO_DIR PATH...
 * Prints the snapshot id and summary as JSON on success.
 */
import { LocalBackend } from '../../src/repo/backend/index.ts';
import { Repository } from '../../src/repo/index.ts';
import { backupFiles } from '../../src/sources/files/index.ts';
import { PASSWORD } from './repo.ts';

const [repoDir, ...paths] = process.argv.slice(2);
const repo = await Repository.open(new LocalBackend(repoDir!), PASSWORD);
const r = await backupFiles(repo, { paths, hostname: process.env['LB_HOST'] ?? 'child' });
process.stdout.write(JSON.stringify({ id: r.id, summary: r.snapshot.summary }) + '\n');
