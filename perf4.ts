import { LocalBackend } from './src/repo/backend/index.ts';
import { Repository } from './src/repo/index.ts';
import { backupFiles } from './src/sources/files/index.ts';
import { mkdtempSync } from 'node:fs';
const dir = mkdtempSync((process.argv[3] ?? '/tmp') + '/lbperf-');
const repo = await Repository.init(new LocalBackend(dir + '/repo'), 'x', { kdf: { N: 1024, r: 8, p: 1 } });
let t = performance.now();
const r = await backupFiles(repo, { paths: [process.argv[2]!] });
console.log('backup', (performance.now()-t).toFixed(0), 'ms', r.snapshot.summary!.total_files_processed);
