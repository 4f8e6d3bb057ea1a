/**
 * RestBackend against serveBackend over real HTTPS on loopback: the shared conformance suite, then what a
 * link adds: a pinned certificate (a wrong one gets nothing, not even the token), a token the server
 * refuses, bytes altered in transit refused and not stored, a verify hook, names that are not repository
 * names, retries across a server that goes away and comes back.
 */
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isLifeboatError, LifeboatError } from '../../../src/core/index.ts';
import { RestBackend, type Handle } from '../../../src/repo/backend/index.ts';
import { startRestSite as startSite, TOKEN } from '../../helpers/rest-site.ts';
import { backendConformance } from './conformance.ts';

backendConformance('RestBackend', async () => {
  const site = await startSite();
  const backend = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint, attempts: 2 });
  return {
    backend,
    cleanup: async () => {
      await backend.close();
      await site.close();
    },
  };
}, { stagedWrites: false });

async function rejectsCode(p: Promise<unknown>, code: string, re?: RegExp): Promise<LifeboatError> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return isLifeboatError(err) && err.code === code && (!re || re.test(err.message));
  });
  return caught as LifeboatError;
}

describe('RestBackend: the link', () => {
  it('a wrong pinned fingerprint gets nothing: no request, no token reaches the server', async (t) => {
    const site = await startSite();
    t.after(() => site.close());
    const b = new RestBackend({ url: site.url, token: TOKEN, fingerprint: `sha256:${'0'.repeat(64)}`, attempts: 1 });
    t.after(() => b.close());
    await rejectsCode(b.create(), 'BACKEND', /pinned/);
    assert.deepEqual(site.seen, []);
    // The right one works.
    const ok = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint });
    t.after(() => ok.close());
    await ok.create();
    assert.equal(site.seen.length, 1);
  });

  it('an unknown token is refused with a hint; http:// and credentials in the URL are refused at once', async (t) => {
    const site = await startSite();
    t.after(() => site.close());
    const b = new RestBackend({ url: site.url, token: 'wrong-token', fingerprint: site.fingerprint });
    t.after(() => b.close());
    const err = await rejectsCode(b.create(), 'BACKEND', /refused/);
    assert.match(err.hint ?? '', /token/);
    assert.throws(() => new RestBackend({ url: site.url.replace('https', 'http') }), /https only/);
    assert.throws(() => new RestBackend({ url: site.url.replace('https://', 'https://u:p@') }), /token separately/);
  });

  it('bytes altered in transit (or a verify hook refusing) are refused and nothing is stored; names that are not repository names never leave', async (t) => {
    const refused: string[] = [];
    const site = await startSite({
      contentNames: true,
      verify: (h: Handle, data: Buffer) => {
        if (data.includes(Buffer.from('poison'))) {
          refused.push(h.name);
          throw new LifeboatError('INTEGRITY', 'a chunk does not match its id');
        }
      },
    });
    t.after(() => site.close());
    const b = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint });
    t.after(() => b.close());
    await b.create();
    const data = randomBytes(1000);
    const name = createHash('sha256').update(data).digest('hex');
    // A pack whose bytes do not hash to its name: what a flipped bit on the way looks like.
    const other = Buffer.from(data);
    other[10]! ^= 1;
    await rejectsCode(b.save({ type: 'pack', name }, other), 'BACKEND', /altered in transit/);
    const poisoned = Buffer.concat([data, Buffer.from('poison')]);
    await rejectsCode(b.save({ type: 'pack', name: createHash('sha256').update(poisoned).digest('hex') }, poisoned), 'BACKEND', /does not match its id/);
    assert.equal(refused.length, 1);
    const stored = await readdir(join(site.dir, 'repo', 'data'), { recursive: true }).catch(() => []);
    assert.deepEqual(stored.filter((f) => String(f).length > 10), [], 'nothing stored');
    await b.save({ type: 'pack', name }, data);
    assert.ok((await b.load({ type: 'pack', name })).equals(data));
    for (const bad of ['../config', 'a/b', '.hidden', '']) await assert.rejects(b.save({ type: 'lock', name: bad }, data), /not a repository file name/);
  });

  it('a server that goes away and comes back: requests are retried with backoff and succeed', async (t) => {
    const site = await startSite();
    const port = Number(new URL(site.url).port);
    const b = new RestBackend({ url: site.url, token: TOKEN, fingerprint: site.fingerprint, attempts: 8 });
    t.after(() => b.close());
    await b.create();
    await site.close();
    const data = randomBytes(5000);
    const name = createHash('sha256').update(data).digest('hex');
    const saving = b.save({ type: 'snapshot', name }, data);
    // Back on the same port, with the same folder and certificate, while the save is retrying.
    const again = await startSite({}, { port, dir: site.dir, certDir: site.certDir });
    t.after(() => again.close());
    await saving;
    assert.ok((await b.load({ type: 'snapshot', name })).equals(data));
  });
});
