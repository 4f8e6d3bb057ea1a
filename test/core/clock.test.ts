import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLifeboatError, ManualClock, systemClock } from '../../src/core/index.ts';

test('ManualClock fires timers in due order, each at its time, and lets woken code arm the next', async () => {
  const clock = new ManualClock(0);
  const seen: Array<[string, number]> = [];
  clock.setTimer(300, () => seen.push(['b', clock.now()]));
  clock.setTimer(100, () => seen.push(['a', clock.now()]));
  const cancel = clock.setTimer(200, () => seen.push(['never', clock.now()]));
  cancel();
  cancel();
  let ticks = 0;
  const loop = (async () => {
    while (ticks < 10) {
      await clock.sleep(1000);
      ticks++;
    }
  })();
  await clock.advance(10_000);
  await loop;
  assert.deepEqual(seen, [['a', 100], ['b', 300]]);
  assert.equal(ticks, 10);
  assert.equal(clock.now(), 10_000);
  assert.equal(clock.pending, 0);
});

test('sleep rejects at once when its signal aborts, and cancels its timer', async () => {
  const clock = new ManualClock(0);
  const ac = new AbortController();
  const p = clock.sleep(60_000, ac.signal);
  assert.equal(clock.pending, 1);
  ac.abort();
  await assert.rejects(p, (e) => isLifeboatError(e) && e.code === 'ABORTED');
  assert.equal(clock.pending, 0);
  await assert.rejects(clock.sleep(1, ac.signal), (e) => isLifeboatError(e) && e.code === 'ABORTED');
});

test('systemClock sleeps for real and can be aborted', async () => {
  const t0 = Date.now();
  await systemClock.sleep(20);
  assert.ok(Date.now() - t0 >= 15);
  const ac = new AbortController();
  const p = systemClock.sleep(60_000, ac.signal);
  ac.abort();
  await assert.rejects(p);
});
