/** Durations of lifeboat.yaml: a number with a unit, largest first; a plain number is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDurationMs, parseDurationMs } from '../../src/config/index.ts';

test('durations: 30s, 5m, 1h, 1h30m, 7d; nothing else', () => {
  assert.equal(parseDurationMs('30s'), 30_000);
  assert.equal(parseDurationMs('5m'), 300_000);
  assert.equal(parseDurationMs('1h'), 3_600_000);
  assert.equal(parseDurationMs('1h30m'), 5_400_000);
  assert.equal(parseDurationMs('7d'), 604_800_000);
  assert.equal(parseDurationMs('1d2h3m4s'), 93_784_000);
  assert.equal(parseDurationMs('0s'), 0);
  for (const bad of ['30', '', 'm', '5 m', '1.5h', '-5m', '30m1h', '1w', '5ms', '1h1h']) assert.equal(parseDurationMs(bad), undefined, bad);
  for (const ms of [0, 1000, 90_000, 5_400_000, 604_800_000, 93_784_000]) assert.equal(parseDurationMs(formatDurationMs(ms)), ms);
  assert.equal(formatDurationMs(5_400_000), '1h30m');
});
