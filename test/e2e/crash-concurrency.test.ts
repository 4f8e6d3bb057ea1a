/**
 * Real processes: a backup killed with SIGKILL at several points leaves a repository that checks clean,
 * and the next backup completes and reuses what was stored; two backups into one repository at once
 * both complete and the repository checks clean.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkRepository, loadSnapshots, listLocks } from '../../src/repo/index.ts';
import { newRepo, openRepo, tempDir } from '../helpers/repo.ts';
import { seededBytes } from '../helpers/tree.ts';

const CHILD = join(import.meta.dirname, '../helpers/backup-child.ts');

function startBackup(repoDir: string, paths: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string; err: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, repoDir, ...paths], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, out, err }));
  });
  return { child, done };
}

function countPacks(repoDir: string): number {
  let n = 0;
  // data/ holds the xx folders and, while packs are being written, their temp files (.tmp-*).
  for (const sub of readdirSync(join(repoDir, 'data'))) {
    if (!sub.startsWith('.')) n += readdirSync(join(repoDir, 'data', sub)).filter((f) => !f.startsWith('.')).length;
  }
  return n;
}

/** Poll until `cond` holds (bounded), without fixed sleeps deciding the outcome. */
async function waitFor(cond: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function makeData(src: string, mib: number): void {
  mkdirSync(src, { recursive: true });
  for (let i = 0; i < mib / 4; i++) writeFileSync(join(src, `blob-${i}.bin`), seededBytes(`crash-${i}`, 4 << 20));
  for (let i = 0; i < 200; i++) writeFileSync(join(src, `small-${i}.txt`), `small file ${i}\n`.repeat(50));
}

describe('crashes and concurrency', { timeout: 10 * 60_000 }, () => {
  it('survives SIGKILL at several points and the next backup reuses stored data', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    makeData(src, 160);
    await newRepo(dir);
    const repoDir = join(dir, 'repo');
    // Kill points: as the first pack lands, after several packs, and after 'most' of the data.
    for (const packs of [1, 4, 7]) {
      const { child, done } = startBackup(repoDir, [src]);
      t.after(() => {
        child.kill('SIGKILL');
      });
      await waitFor(() => countPacks(repoDir) >= packs || child.exitCode !== null, `${packs} packs`);
      child.kill('SIGKILL');
      const r = await done;
      assert.ok(r.signal === 'SIGKILL' || r.code === 0, `child ended with ${r.code} ${r.signal}: ${r.err}`);
      const check = await checkRepository(await openRepo(dir), { readData: true });
      assert.ok(check.ok, JSON.stringify(check.problems));
    }
    // The kill left a lock behind; it is stale (its pid is gone) and does not block the next backup.
    assert.ok((await listLocks(await openRepo(dir))).every((l) => l.stale));
    const { done } = startBackup(repoDir, [src]);
    const r = await done;
    assert.equal(r.code, 0, r.err);
    const { summary } = JSON.parse(r.out) as { summary: { data_added: number; total_bytes_processed: number } };
    // Most of the 160 MiB was already stored by the killed runs: the completing run adds far less.
    assert.ok(summary.data_added < summary.total_bytes_processed * 0.8, `added ${summary.data_added} of ${summary.total_bytes_processed}`);
    const check = await checkRepository(await openRepo(dir), { readData: true });
    assert.ok(check.ok, JSON.stringify(check.problems));
    assert.equal((await loadSnapshots(await openRepo(dir))).length, 1);
  });

  it('runs two backups into one repository at once', async (t) => {
    const dir = await tempDir(t);
    const a = join(dir, 'host-a');
    const b = join(dir, 'host-b');
    makeData(a, 40);
    makeData(b, 40); // same content: both race to store the same chunks
    writeFileSync(join(b, 'only-b.txt'), 'b');
    await newRepo(dir);
    const repoDir = join(dir, 'repo');
    const x = startBackup(repoDir, [a], { LB_HOST: 'host-a' });
    const y = startBackup(repoDir, [b], { LB_HOST: 'host-b' });
    t.after(() => {
      x.child.kill('SIGKILL');
      y.child.kill('SIGKILL');
    });
    const [rx, ry] = await Promise.all([x.done, y.done]);
    assert.equal(rx.code, 0, rx.err);
    assert.equal(ry.code, 0, ry.err);
    const snaps = await loadSnapshots(await openRepo(dir));
    assert.deepEqual(snaps.map((s) => s.hostname).sort(), ['host-a', 'host-b']);
    const check = await checkRepository(await openRepo(dir), { readData: true });
    assert.ok(check.ok, JSON.stringify(check.problems));
    assert.deepEqual(await listLocks(await openRepo(dir)), []);
  });
});
