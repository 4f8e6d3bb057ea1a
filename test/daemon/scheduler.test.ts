/** The scheduler and the job queue on a manual clock: due times, jitter, missed runs, no overlap, the global limit. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ManualClock } from '../../src/core/index.ts';
import { JobQueue, Scheduler, StateStore, type JobRecord } from '../../src/daemon/index.ts';
import { tempDir } from '../helpers/repo.ts';

const T0 = Date.UTC(2026, 11, 7, 10, 0, 0);

async function store(t: TestContext, clock: ManualClock): Promise<StateStore> {
  const s = await StateStore.open(await tempDir(t), clock.now());
  t.after(() => s.close());
  return s;
}

test('jobs are handed over at their due time plus jitter, and the lag is measured', async (t) => {
  const clock = new ManualClock(T0);
  const state = await store(t, clock);
  const seen: Array<[string, number, number]> = [];
  const sch = new Scheduler([{ group: 'web', kind: 'backup', schedule: { cron: '*/10 * * * * *' }, jitterMs: 4000 }], {
    clock,
    state,
    random: () => 0.5,
    submit: (group, _kind, _trigger, due) => seen.push([group, due, clock.now()]),
  });
  await sch.start(new AbortController().signal);
  assert.equal(sch.next('web', 'backup'), T0 + 10_000);
  await clock.advance(35_000);
  assert.deepEqual(seen, [
    ['web', T0 + 10_000, T0 + 12_000],
    ['web', T0 + 20_000, T0 + 22_000],
    ['web', T0 + 30_000, T0 + 32_000],
  ]);
  assert.equal(sch.lastLagMs, 0);
  assert.equal(state.lastDue('web', 'backup'), T0 + 30_000);
  await sch.stop();
  await clock.advance(60_000);
  assert.equal(seen.length, 3, 'nothing fires after stop');
});

test('a run missed while the daemon was down runs once at start, however many were missed', async (t) => {
  const clock = new ManualClock(T0);
  const state = await store(t, clock);
  const entries = [{ group: 'db', kind: 'backup' as const, schedule: { cron: '0 * * * *' }, jitterMs: 0 }];
  const first: string[] = [];
  const a = new Scheduler(entries, { clock, state, submit: (g, _k, trigger) => first.push(`${g}:${trigger}`) });
  await a.start(new AbortController().signal);
  await a.stop();
  assert.deepEqual(first, [], 'a first start misses nothing');
  clock.set(T0 + 5 * 3600_000 + 60_000); // down for five hours
  const second: Array<[string, number]> = [];
  const b = new Scheduler(entries, { clock, state, submit: (_g, _k, trigger, due) => second.push([trigger, due]) });
  await b.start(new AbortController().signal);
  assert.deepEqual(second, [['missed', T0 + 3600_000]]);
  await clock.advance(3600_000);
  assert.deepEqual(second.map((x) => x[0]), ['missed', 'schedule']);
  await b.stop();
});

test('the queue: a group never overlaps itself, the global limit holds, a waiting duplicate is coalesced, a failure is recorded', async (t) => {
  const clock = new ManualClock(T0);
  const state = await store(t, clock);
  const release = new Map<number, (v: 'ok' | 'fail') => void>();
  let concurrent = 0;
  let peak = 0;
  const q = new JobQueue({
    clock,
    state,
    maxConcurrent: 2,
    execute: async (job: JobRecord) => {
      concurrent++;
      peak = Math.max(peak, concurrent);
      const how = await new Promise<'ok' | 'fail'>((r) => release.set(job.id, r));
      concurrent--;
      if (how === 'fail') throw new Error('source gone');
      return { status: 'ok', snapshots: [`s${job.id}`] };
    },
  });
  await q.start(new AbortController().signal);
  const a1 = q.submit('a', 'backup', 'schedule').job;
  const a2 = q.submit('a', 'backup', 'schedule');
  const a3 = q.submit('a', 'backup', 'schedule');
  assert.equal(a2.queued, true, 'a second job may wait behind the running one');
  assert.equal(a3.queued, false, 'a third is the waiting one');
  const b1 = q.submit('b', 'backup', 'api').job;
  const c1 = q.submit('c', 'check', 'api').job;
  await clock.advance(0);
  assert.deepEqual(q.running.map((j) => j.group).sort(), ['a', 'b']);
  assert.deepEqual(q.waiting.map((j) => j.group).sort(), ['a', 'c']);
  release.get(a1.id)!('fail');
  await clock.advance(0);
  assert.equal(state.job(a1.id)?.status, 'failed');
  assert.equal(state.job(a1.id)?.error, 'source gone');
  // c (another group) goes before a's second job? Order of asking: a2 was asked before c1.
  assert.deepEqual(q.running.map((j) => j.id).sort(), [a2.job.id, b1.id].sort());
  release.get(b1.id)!('ok');
  await clock.advance(0);
  assert.deepEqual(q.running.map((j) => j.id).sort(), [a2.job.id, c1.id].sort());
  release.get(a2.job.id)!('ok');
  release.get(c1.id)!('ok');
  await q.idle();
  assert.equal(peak, 2);
  assert.deepEqual(state.jobs({ group: 'a' }).map((j) => j.status), ['ok', 'failed']);
});

test('stop cancels running jobs through their signal (recorded interrupted) and the waiting ones never start', async (t) => {
  const clock = new ManualClock(T0);
  const state = await store(t, clock);
  const q = new JobQueue({
    clock,
    state,
    maxConcurrent: 1,
    execute: (_job, signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled')))),
  });
  await q.start(new AbortController().signal);
  const running = q.submit('a', 'backup', 'schedule').job;
  const waiting = q.submit('b', 'backup', 'schedule').job;
  await clock.advance(0);
  await q.stop();
  assert.equal(state.job(running.id)?.status, 'interrupted');
  assert.equal(state.job(waiting.id)?.status, 'interrupted');
  assert.equal(state.job(waiting.id)?.started, undefined);
});

test('a job left running by a daemon that died is recorded as interrupted when the state is opened again', async (t) => {
  const dir = await tempDir(t);
  const a = await StateStore.open(dir, T0);
  const j = a.addJob({ group: 'g', kind: 'backup', trigger: 'schedule', queued: T0 });
  a.startJob(j.id, T0);
  a.close();
  const b = await StateStore.open(dir, T0 + 1000);
  t.after(() => b.close());
  assert.equal(b.job(j.id)?.status, 'interrupted');
  assert.match(b.job(j.id)?.error ?? '', /daemon stopped/);
});
