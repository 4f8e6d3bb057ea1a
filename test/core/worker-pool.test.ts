/**
 * The worker pool: answers, errors with their codes, a worker that stops (only its requests fail), a busy
 * worker that frees the buffers its jobs leave behind. Workers started ahead of need (prestartWorkers): the
 * pool takes them, their input arrives before any request and no request sent while they still boot is
 * lost; one never taken does not keep the process alive; one that failed before it was taken is replaced by
 * a new worker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prestartWorkers, WorkerPool, type LifeboatError } from '../../src/core/index.ts';
import { waitFor } from '../helpers/wait.ts';

const module = new URL('../helpers/input-worker.ts', import.meta.url);
type Res = { tag: string; req: number; deferred: boolean };

describe('worker pool', () => {
  it('answers every request of a pool of new workers with their input', async () => {
    const pool = new WorkerPool<number, Res>(module, { tag: 'plain' }, 2);
    try {
      const out = await Promise.all([1, 2, 3, 4].map((n) => pool.run(n)));
      assert.deepEqual(out.map((r) => [r.tag, r.req, r.deferred]), [1, 2, 3, 4].map((n) => ['plain', n, false]));
    } finally {
      await pool.close();
    }
  });

  it('keeps the code and hint of a LifeboatError thrown in a worker, and moves the buffers it is told to', async () => {
    const pool = new WorkerPool<number, Res & { bytes?: Uint8Array }>(module, { tag: 'errors' }, 1);
    try {
      await assert.rejects(pool.run(-1), (err: LifeboatError) => err.code === 'INTEGRITY' && err.message === 'index file x is damaged' && err.hint === 'run lifeboat check');
      await assert.rejects(pool.run(-2), (err: LifeboatError) => err.code === 'INTERNAL' && /worker failed: a bug/.test(err.message));
      const r = await pool.run(-3);
      assert.equal(r.bytes?.length, 1 << 20);
      assert.equal(r.bytes?.[12345], 7);
      // The pool still works after the errors.
      assert.equal((await pool.run(5)).req, 5);
    } finally {
      await pool.close();
    }
  });

  it('a worker that stops fails only the requests it was given; the other worker goes on and takes new ones', async () => {
    const pool = new WorkerPool<number, Res>(module, { tag: 'crash' }, 2);
    try {
      const slow = pool.runOn(1, -5); // on the worker that stays
      await assert.rejects(pool.runOn(0, -4), (err: LifeboatError) => err.code === 'INTERNAL' && /worker stopped: exited with code 3/.test(err.message));
      assert.equal((await slow).req, -5);
      // Requests for the stopped worker fail at once; run() picks the one that is left.
      await assert.rejects(pool.runOn(0, 8), /worker stopped/);
      const out = await Promise.all([9, 10, 11].map((n) => pool.run(n)));
      assert.deepEqual(out.map((r) => r.req), [9, 10, 11]);
    } finally {
      await pool.close();
    }
  });

  it('frees the buffers jobs leave behind while requests keep coming, not only once its queue is empty', async () => {
    const pool = new WorkerPool<number, Res & { arrayBuffers?: number }>(module, { tag: 'garbage' }, 1);
    try {
      // 64 jobs sent at once: the worker never finds its queue empty. Each leaves 1 MiB of dead buffers and
      // few JS objects, so the young generation never fills: without a collection between jobs, 31 MiB of
      // them were held. With one once 4 MiB have gathered, 4-5 MiB; up to ~10 MiB on a loaded machine, as V8
      // frees them on a background thread.
      const out = await Promise.all(Array.from({ length: 64 }, () => pool.run(-6)));
      const most = Math.max(...out.map((r) => r.arrayBuffers ?? Infinity));
      assert.ok(most < 20 * 1024 * 1024, `buffers held at the start of a job: ${(most / 1048576).toFixed(1)} MiB`);
    } finally {
      await pool.close();
    }
  });

  it('takes prestarted workers, which get their input first and lose no request sent while they boot', async () => {
    prestartWorkers(module, 2);
    // Requests go out at once, long before the workers have loaded their module.
    const pool = new WorkerPool<number, Res>(module, { tag: 'late' }, 2);
    try {
      const out = await Promise.all(Array.from({ length: 40 }, (_, i) => pool.runOn(i, i)));
      assert.deepEqual(out.map((r) => r.req), Array.from({ length: 40 }, (_, i) => i));
      assert.ok(out.every((r) => r.tag === 'late' && r.deferred), 'both workers were the prestarted ones and got the input');
      // Both spares were taken: the next worker is a new one.
      const extra = new WorkerPool<number, Res>(module, { tag: 'next' }, 1);
      try {
        assert.deepEqual(await extra.run(7), { tag: 'next', req: 7, deferred: false });
      } finally {
        await extra.close();
      }
    } finally {
      await pool.close();
    }
  });

  it('a prestarted worker never taken does not keep the process alive', () => {
    const code = `import { prestartWorkers } from ${JSON.stringify(new URL('../../src/core/index.ts', import.meta.url).href)};
      prestartWorkers(new URL(${JSON.stringify(module.href)}), 2);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      timeout: 60_000,
      encoding: 'utf8',
    });
    assert.equal(r.error, undefined, 'exited on its own');
    assert.equal(r.status, 0, r.stderr);
  });

  it('replaces a prestarted worker that failed before it was taken', async () => {
    process.env['FAIL_EARLY'] = '1'; // read by the worker at start (workers copy the environment)
    let spares;
    try {
      spares = prestartWorkers(module, 1);
    } finally {
      delete process.env['FAIL_EARLY'];
    }
    assert.equal(spares.length, 1);
    let exited = false;
    spares[0]!.once('exit', () => (exited = true));
    await waitFor('the prestarted worker to fail', () => exited); // (a spare does not hold the event loop)
    const pool = new WorkerPool<number, Res>(module, { tag: 'fresh' }, 1);
    try {
      assert.deepEqual(await pool.run(1), { tag: 'fresh', req: 1, deferred: false });
    } finally {
      await pool.close();
    }
  });
});
