/** run(): an abort ends the program (SIGKILL at once, or SIGTERM first with a grace for programs that clean up). */
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/core/index.ts';
import { waitFor } from '../helpers/wait.ts';

void test('run: on abort, stopGraceMs sends SIGTERM first (the program cleans up), then SIGKILL to one that ignores it; without it, SIGKILL at once', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-exec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const started = join(dir, 'started');
  const cleaned = join(dir, 'cleaned');
  const script = (onTerm: string): string => `trap '${onTerm}' TERM; touch ${started}; while :; do sleep 0.05; done`;

  let ac = new AbortController();
  let p = run('sh', ['-c', script(`touch ${cleaned}; exit 0`)], { signal: ac.signal, stopGraceMs: 5000 });
  await waitFor('the program to start', () => existsSync(started), 10_000, 10);
  ac.abort();
  let r = await p;
  assert.equal(r.code, 0, 'it ran its SIGTERM trap and left by itself');
  assert.ok(existsSync(cleaned));

  rmSync(started);
  ac = new AbortController();
  p = run('sh', ['-c', script(':')], { signal: ac.signal, stopGraceMs: 300 });
  await waitFor('the program to start', () => existsSync(started), 10_000, 10);
  ac.abort();
  r = await p;
  assert.equal(r.signal, 'SIGKILL', 'a program that ignores SIGTERM is killed after the grace');

  rmSync(started);
  rmSync(cleaned);
  ac = new AbortController();
  p = run('sh', ['-c', script(`touch ${cleaned}`)], { signal: ac.signal });
  await waitFor('the program to start', () => existsSync(started), 10_000, 10);
  ac.abort();
  r = await p;
  assert.equal(r.signal, 'SIGKILL');
  assert.ok(!existsSync(cleaned), 'no grace: no SIGTERM');
});
