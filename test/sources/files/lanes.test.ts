/** runInLanes: every job runs once, each lane works through its own contiguous part, idle lanes steal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInLanes } from '../../../src/sources/files/lanes.ts';

describe('runInLanes', () => {
  it('runs every item once, lanes in contiguous parts, at most perLane at a time each', async () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const seen: Array<{ item: number; lane: number }> = [];
    const running = [0, 0];
    let most = 0;
    await runInLanes(items, 2, 2, async (item, lane) => {
      running[lane]!++;
      most = Math.max(most, running[lane]!);
      await new Promise((r) => setImmediate(r));
      seen.push({ item, lane });
      running[lane]!--;
    });
    assert.deepEqual(seen.map((s) => s.item).sort((a, b) => a - b), items);
    assert.equal(most, 2);
    // Lane 0 starts at the front, lane 1 in the middle.
    assert.equal(seen.find((s) => s.lane === 1)!.item >= 50, true);
    assert.equal(seen.find((s) => s.lane === 0)!.item < 50, true);
  });

  it('lets a lane that is done take work from the end of the busiest part', async () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const byLane: number[][] = [[], []];
    await runInLanes(items, 2, 1, async (item, lane) => {
      // Lane 0's items are slow: lane 1 finishes its own half and then takes lane 0's last items.
      if (item < 10) await new Promise((r) => setTimeout(r, 5));
      byLane[lane]!.push(item);
    });
    assert.deepEqual([...byLane[0]!, ...byLane[1]!].sort((a, b) => a - b), items);
    assert.ok(byLane[1]!.some((i) => i < 10), JSON.stringify(byLane));
    assert.ok(byLane[1]!.includes(9), 'stolen from the end of lane 0');
  });

  it('stops taking new items after a failure and rethrows it', async () => {
    let ran = 0;
    await assert.rejects(
      runInLanes([1, 2, 3, 4, 5, 6], 2, 1, async (item) => {
        ran++;
        if (item === 1) throw new Error('boom');
        await new Promise((r) => setImmediate(r));
      }),
      /boom/,
    );
    assert.ok(ran < 6);
  });

  it('copes with fewer items than lanes, and with none', async () => {
    const got: number[] = [];
    await runInLanes([7], 4, 2, async (i) => void got.push(i));
    assert.deepEqual(got, [7]);
    await runInLanes([], 2, 2, async () => assert.fail('no items'));
  });
});
