import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LifeboatError, ServiceGroup, type Service } from '../../src/core/index.ts';

function fake(name: string, log: string[], opts: { fail?: boolean } = {}): Service {
  let up = false;
  return {
    name,
    start() {
      if (opts.fail) return Promise.reject(new LifeboatError('NETWORK', `${name} cannot start`));
      up = true;
      log.push(`start ${name}`);
      return Promise.resolve();
    },
    stop() {
      if (up) log.push(`stop ${name}`);
      up = false;
      return Promise.resolve();
    },
    health: () => (up ? { ok: true } : { ok: false, detail: 'down' }),
  };
}

test('a group starts in order, stops in reverse, once, also when its signal aborts', async () => {
  const log: string[] = [];
  const g = new ServiceGroup('all', [fake('a', log), fake('b', log)]);
  const ac = new AbortController();
  await g.start(ac.signal);
  assert.equal(g.health().ok, true);
  ac.abort();
  await g.stop();
  await g.stop();
  assert.deepEqual(log, ['start a', 'start b', 'stop b', 'stop a']);
  assert.equal(g.health().ok, false);
  assert.match(String(g.health().detail), /a: down/);
});

test('a group whose member cannot start stops the ones already started and throws', async () => {
  const log: string[] = [];
  const g = new ServiceGroup('all', [fake('a', log), fake('b', log, { fail: true }), fake('c', log)]);
  await assert.rejects(g.start(new AbortController().signal), /b cannot start/);
  assert.deepEqual(log, ['start a', 'stop a']);
});
