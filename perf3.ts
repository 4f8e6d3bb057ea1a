import { newRepo } from './test/helpers/repo.ts';
import { backupFiles } from './src/sources/files/index.ts';
import { mkdtempSync } from 'node:fs';
const dir = mkdtempSync('/tmp/lbperf-');
const repo = await newRepo(dir);
let t = performance.now();
const r = await backupFiles(repo, { paths: [process.argv[2]!] });
console.log('backup', (performance.now()-t).toFixed(0), 'ms', r.snapshot.summary!.total_files_processed);
