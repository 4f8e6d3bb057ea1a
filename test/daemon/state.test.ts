/** The state store keeps bounded history: the newest jobs per group and the newest audit rows; long texts are clipped. */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StateStore } from '../../src/daemon/index.ts';

void test('state: trimming keeps the newest finished jobs of each group (never a running one) and the newest audit rows; audit texts are clipped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-state-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = await StateStore.open(dir, 0);
  t.after(() => store.close());
  assert.equal(statSync(join(dir, 'state.db')).mode & 0o777, 0o600, 'the history and audit log are the daemon user\'s alone');
  const running = store.addJob({ group: 'a', kind: 'backup', trigger: 'schedule', queued: 0 });
  store.startJob(running.id, 1);
  for (let i = 0; i < 30; i++) {
    for (const group of ['a', 'b']) {
      const j = store.addJob({ group, kind: 'backup', trigger: 'schedule', queued: i });
      store.endJob(j.id, { at: i, status: 'ok' });
    }
  }
  store.trimJobs('a', 10);
  const a = store.jobs({ group: 'a', limit: 100 });
  assert.equal(a.filter((j) => j.status === 'ok').length, 10, 'the newest 10 of group a');
  assert.ok(a.some((j) => j.id === running.id), 'a running job is never trimmed');
  assert.equal(store.jobs({ group: 'b', limit: 100 }).length, 30, "another group's history is its own");
  for (let i = 0; i < 40; i++) store.audit({ time: i, actor: '-', role: '-', method: 'GET', path: `/v1/${'x'.repeat(20_000)}`, status: 401, outcome: 'refused', remote: '127.0.0.1' });
  store.trimAudit(25);
  const log = store.auditLog(1000);
  assert.equal(log.length, 25);
  assert.equal(log[0]!.time, 39, 'the newest are kept');
  assert.ok(log.every((r) => r.path.length <= 513), 'paths are clipped');
});
