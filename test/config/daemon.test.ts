/** `daemon:` — how many jobs run at once. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertError, read } from './helpers.ts';

test('daemon: max_concurrent_jobs, default 2', () => {
  assert.deepEqual(read('').cfg.daemon, { maxConcurrentJobs: 2 });
  assert.deepEqual(read('daemon:\n').cfg.daemon, { maxConcurrentJobs: 2 });
  assert.deepEqual(read('daemon: { max_concurrent_jobs: 8 }\n').cfg.daemon, { maxConcurrentJobs: 8 });
});

test('daemon: errors', () => {
  assertError('daemon: { max_concurrent_jobs: 0 }\n', { line: 1, col: 32, field: 'daemon.max_concurrent_jobs' }, /^expected a whole number from 1 to 64$/);
  assertError('daemon: { max_concurrent_jobs: "2" }\n', { line: 1, col: 32, field: 'daemon.max_concurrent_jobs' }, /expected a whole number/);
  assertError('daemon:\n  max_concurrent_job: 2\n', { line: 2, col: 3, field: 'daemon.max_concurrent_job' }, /^unknown field; did you mean "max_concurrent_jobs"\? \(known: max_concurrent_jobs\)$/);
  // Nothing close: the known fields only.
  assertError('daemon:\n  max_jobs: 2\n', { line: 2, col: 3, field: 'daemon.max_jobs' }, /^unknown field \(known: max_concurrent_jobs\)$/);
  assertError('daemon: 2\n', { line: 1, col: 9, field: 'daemon' }, /expected a mapping/);
});
