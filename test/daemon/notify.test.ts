/** The notifier's queue per webhook is bounded: a receiver that never answers costs at most MAX_QUEUED notices. */
import * as assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { test } from 'node:test';
import { ManualClock } from '../../src/core/index.ts';
import { MAX_QUEUED, Notifier, type Notice } from '../../src/daemon/notify.ts';
import { waitFor } from '../helpers/wait.ts';

void test('notify: a webhook that never answers holds one delivery; beyond MAX_QUEUED waiting, the oldest waiting are dropped and logged', async (t) => {
  const held: ServerResponse[] = [];
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => void held.push(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    for (const r of held) r.destroy();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const logs: Array<Record<string, unknown>> = [];
  const n = new Notifier([{ url: `http://127.0.0.1:${port}/hook`, events: ['job_failed'], timeoutMs: 600_000 }], { clock: new ManualClock(0), log: (e) => logs.push(e) });
  const ac = new AbortController();
  await n.start(ac.signal);
  const notice = (i: number): Notice => ({ event: 'job_failed', site: 's', group: `g${i}`, time: new Date(0).toISOString(), message: `failure ${i}` });
  n.notify(notice(0));
  await waitFor('the first delivery to reach the receiver', () => held.length === 1, 10_000, 10);
  for (let i = 1; i <= MAX_QUEUED + 5; i++) n.notify(notice(i));
  const dropped = logs.filter((e) => e['event'] === 'notice-dropped');
  assert.deepEqual(dropped.map((e) => e['group']), ['g1', 'g2', 'g3', 'g4', 'g5'], 'the oldest waiting ones, not the one in flight');
  assert.equal(n.stats.dropped, 5);
  ac.abort();
  await n.stop();
});
