/**
 * The built command (scripts/build.mjs: the bundle bin/lifeboat.js runs), not the sources: every other CLI
 * test runs src/ through tsx, so this is where a bundle that cannot find its workers or its native
 * packages would show. Built into a fresh folder inside the project (where node_modules is found), run
 * on a plain node: a backup, a restore and a check that reads all data, each on worker threads.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { tempDir } from '../helpers/repo.ts';
import { lifeboat, show } from './run-cli.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('built command', () => {
  it('backs up, restores and checks with its worker threads, from the bundle', async (t) => {
    const out = mkdtempSync(join(root, '.build-test-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), out], { stdio: 'pipe' });
    const entry = join(out, 'main.js');

    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    const big = randomBytes(3 * 1024 * 1024); // several chunks: the chunk workers cut and seal them
    writeFileSync(join(src, 'big.bin'), big);
    for (let i = 0; i < 20; i++) writeFileSync(join(src, 'sub', `f${i}.txt`), `file ${i}\n`.repeat(2000));
    const repo = join(dir, 'repo');
    const run = (args: string[]) => lifeboat(['-r', repo, ...args], { entry });

    const version = await run(['--version']);
    assert.equal(version.code, 0, show(version));
    assert.ok((await run(['init'])).code === 0);
    const backup = await run(['backup', src]);
    assert.equal(backup.code, 0, show(backup));

    const target = join(dir, 'target');
    const restore = await run(['restore', 'latest', '--target', target]);
    assert.equal(restore.code, 0, show(restore));
    assert.ok(readFileSync(join(target, src, 'big.bin')).equals(big), 'restored byte for byte');
    assert.equal(readFileSync(join(target, src, 'sub', 'f7.txt'), 'utf8'), 'file 7\n'.repeat(2000));

    const check = await run(['check', '--read-data', '--json']);
    assert.equal(check.code, 0, show(check));
    const result = JSON.parse(check.stdout) as { problems: unknown[]; packs_read: number };
    assert.deepEqual(result.problems, []);
    assert.ok(result.packs_read > 0);

    // The workers whose failure a command would not show: the read-ahead worker (its errors are ignored:
    // it only warms caches) walks and ends; the verify worker (not used when there are fewer than two packs
    // to read) answers a request.
    const walked = new Worker(join(out, 'prefetch-worker.js'), { workerData: { paths: [src], excludes: [], oneFileSystem: false } });
    assert.equal(await new Promise((resolve, reject) => walked.once('error', reject).once('exit', resolve)), 0);
    const keys = { encryption: new Uint8Array(32), mac: new Uint8Array(32) };
    const verify = new Worker(join(out, 'verify-worker.js'), { workerData: keys });
    try {
      verify.postMessage({ id: 1, req: { t: 'blobs', pack: '00'.repeat(32), start: 0, bytes: new Uint8Array(0), blobs: [] } });
      const answer = await new Promise<{ id: number; error?: string }>((resolve, reject) => verify.once('error', reject).once('message', resolve));
      assert.deepEqual([answer.id, answer.error], [1, undefined]);
    } finally {
      await verify.terminate();
    }
  });
});
