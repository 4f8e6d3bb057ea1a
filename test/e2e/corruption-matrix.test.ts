/**
 * Every kind of repository file (config, key, index, snapshot, data pack, tree pack, lock) damaged in
 * every way (a flipped byte, truncated, zeroed, deleted): what check, check --read-data, listing snapshots,
 * and restoring the damaged and the untouched snapshot do; then the repair (repair index --read-data, a
 * new backup, repair snapshots --forget), after which every snapshot the damage did not take restores and
 * the new backup is complete. Snapshot A is the one damaged; B has files of its own and never suffers.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LifeboatError } from '../../src/core/index.ts';
import { checkRepository, loadSnapshots, rebuildIndex, repairSnapshots, resolveSnapshot, type Repository, type SnapshotEntry } from '../../src/repo/index.ts';
import { backupFiles, restoreFiles, type RestoreResult } from '../../src/sources/files/index.ts';
import { newRepo, openRepo } from '../helpers/repo.ts';
import { compareTrees, seededBytes } from '../helpers/tree.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

type Kind = 'config' | 'key' | 'index' | 'snapshot' | 'data pack' | 'tree pack' | 'lock';
type Damage = 'flip' | 'truncate' | 'zero' | 'delete';
const KINDS: Kind[] = ['config', 'key', 'index', 'snapshot', 'data pack', 'tree pack', 'lock'];
const DAMAGES: Damage[] = ['flip', 'truncate', 'zero', 'delete'];

let base: string;
let srcA: string;
let srcB: string;
let idA: string;
let idB: string;
/** Repository-relative path of the file of each kind that belongs to A. */
const fileOf = new Map<Kind, string>();

function damage(path: string, how: Damage): void {
  if (how === 'delete') return rmSync(path);
  const size = statSync(path).size;
  if (how === 'truncate') return truncateSync(path, Math.floor(size / 2));
  if (how === 'zero') return writeFileSync(path, Buffer.alloc(size));
  const bytes = readFileSync(path);
  bytes[Math.floor(size / 2)]! ^= 0x20;
  writeFileSync(path, bytes);
}

/** Every file of the repository and its bytes' length and a digest-free fingerprint, to see nothing was written. */
function listing(repo: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(repo, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(join(repo, r));
      if (st.isDirectory()) walk(r);
      else out.push(`${r} ${st.size} ${st.mtimeMs}`);
    }
  };
  walk('');
  return out;
}

async function restoreInto(repo: Repository, snap: SnapshotEntry, target: string): Promise<RestoreResult> {
  return restoreFiles(repo, snap, { target, workers: 0, verify: true });
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'lb-matrix-'));
  srcA = join(base, 'src-a');
  srcB = join(base, 'src-b');
  for (const [src, seed] of [[srcA, 'a'], [srcB, 'b']] as const) {
    mkdirSync(join(src, 'deep/er'), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(join(src, `file-${i}`), seededBytes(`${seed}-${i}`, 150_000));
    writeFileSync(join(src, 'deep/er/note.txt'), `${seed}: a small note`);
  }
  const repo = await newRepo(base);
  idA = (await backupFiles(repo, { paths: [srcA], workers: 0 })).id;
  idB = (await backupFiles(await openRepo(base), { paths: [srcB], workers: 0 })).id;
  const r = await openRepo(base);
  await r.loadIndex();
  const [a] = (await loadSnapshots(r)).filter((s) => s.id === idA);
  const treePack = r.index.get(a!.tree)!.pack;
  const { findNode } = await import('../../src/repo/index.ts');
  const file0 = await findNode(r, a!.tree, join(srcA, 'file-0'));
  const dataPack = r.index.get(file0!.content![0]!)!.pack;
  fileOf.set('config', 'config');
  fileOf.set('key', `keys/${readdirSync(join(base, 'repo/keys'))[0]!}`);
  fileOf.set('snapshot', `snapshots/${idA}`);
  fileOf.set('data pack', `data/${dataPack.slice(0, 2)}/${dataPack}`);
  fileOf.set('tree pack', `data/${treePack.slice(0, 2)}/${treePack}`);
  for (const name of readdirSync(join(base, 'repo/index'))) {
    const ip = await r.loadIndexFile(name);
    if (ip.packs.includes(treePack)) fileOf.set('index', `index/${name}`);
  }
  // A lock left by a process that is gone (same host, no such pid): stale, as a crash leaves it.
  const lock = await r.saveJson('lock', { time: new Date().toISOString(), refreshed: new Date().toISOString(), exclusive: false, hostname: (await import('node:os')).hostname(), username: 'root', pid: 2 ** 22 + 17, purpose: 'backup' }, { name: 'ab'.repeat(32) });
  fileOf.set('lock', `locks/${lock}`);
  assert.equal(fileOf.size, KINDS.length);
});

after(() => rm(base, { recursive: true, force: true }));

describe('corruption matrix: every repository file kind × every kind of damage', () => {
  for (const kind of KINDS) {
    for (const how of DAMAGES) {
      it(`${kind}, ${how}`, async (t) => {
        const dir = await mkdtemp(join(tmpdir(), 'lb-case-'));
        t.after(() => rm(dir, { recursive: true, force: true }));
        cpSync(join(base, 'repo'), join(dir, 'repo'), { recursive: true });
        damage(join(dir, 'repo', fileOf.get(kind)!), how);

        // ---- The repository cannot be opened without its config or its key: a clear error, nothing written.
        if (kind === 'config' || kind === 'key') {
          const before = listing(join(dir, 'repo'));
          const err = await openRepo(dir).then(
            () => undefined,
            (e: unknown) => e,
          );
          assert.ok(err instanceof LifeboatError, String(err));
          const expected = kind === 'key' ? (how === 'delete' ? 'INTEGRITY' : 'WRONG_PASSWORD') : how === 'delete' ? 'REPO_NOT_FOUND' : 'INTEGRITY';
          assert.equal(err.code, expected, err.message);
          assert.match(err.message, kind === 'key' ? (how === 'delete' ? /no key file left/ : /1 damaged key file\(s\) skipped/) : how === 'delete' ? /no Lifeboat repository/ : /config/);
          assert.ok(err.hint, 'and says what to do');
          assert.deepEqual(listing(join(dir, 'repo')), before);
          return;
        }

        // ---- check, without and with reading the data.
        const check = await checkRepository(await openRepo(dir), { workers: 0 });
        const checkData = await checkRepository(await openRepo(dir), { readData: true, workers: 0 });
        const harmless = kind === 'lock' || (kind === 'snapshot' && how === 'delete');
        // A flipped byte or zeros inside a data pack need the data read to be seen; all else shows at once.
        const needsData = kind === 'data pack' && (how === 'flip' || how === 'zero');
        assert.equal(check.ok, harmless || needsData, `check: ${JSON.stringify(check.problems)}`);
        assert.equal(checkData.ok, harmless, `check --read-data: ${JSON.stringify(checkData.problems)}`);
        for (const p of checkData.problems) {
          assert.ok(p.hint, `every problem says how to repair it: ${JSON.stringify(p)}`);
          if (p.snapshots) assert.ok(!p.snapshots.includes(idB.slice(0, 8)), `B is never affected: ${JSON.stringify(p)}`);
        }

        // ---- snapshots: a damaged snapshot file is left out (and named), the others listed.
        const damagedSnapshots: string[] = [];
        const snaps = await loadSnapshots(await openRepo(dir), { onError: (id) => damagedSnapshots.push(id) });
        const snapshotGone = kind === 'snapshot';
        assert.deepEqual(snaps.map((s) => s.id).sort(), (snapshotGone ? [idB] : [idA, idB]).sort());
        assert.deepEqual(damagedSnapshots, kind === 'snapshot' && how !== 'delete' ? [idA] : []);

        // ---- restore: B always whole; A whole, partly restored, or refused with an integrity error.
        const b = await restoreInto(await openRepo(dir), resolveSnapshot(snaps, idB), join(dir, 'restore-b'));
        assert.deepEqual(b.warnings, []);
        assert.deepEqual(compareTrees(srcB, join(dir, 'restore-b', srcB)), []);
        if (snapshotGone) {
          if (how !== 'delete') assert.throws(() => resolveSnapshot(snaps, idA, {}, damagedSnapshots), { code: 'INTEGRITY' });
        } else {
          const snapA = resolveSnapshot(snaps, idA);
          let a: RestoreResult | LifeboatError;
          try {
            a = await restoreInto(await openRepo(dir), snapA, join(dir, 'restore-a'));
          } catch (err) {
            assert.ok(err instanceof LifeboatError && err.code === 'INTEGRITY', String(err));
            a = err;
          }
          const dataLost = kind === 'data pack' || kind === 'tree pack';
          if (!dataLost) {
            assert.ok(!(a instanceof LifeboatError) && a.warnings.length === 0, `A restores whole: ${JSON.stringify(a)}`);
            assert.deepEqual(compareTrees(srcA, join(dir, 'restore-a', srcA)), []);
          } else if (!(a instanceof LifeboatError)) {
            assert.ok(a.warnings.length > 0 && a.warnings.every((w) => w.kind === 'damaged'), JSON.stringify(a.warnings));
          }
        }

        // ---- repair: the index from the packs (verified), a new backup, then the snapshots.
        await rebuildIndex(await openRepo(dir), { readData: true });
        const fresh = await backupFiles(await openRepo(dir), { paths: [srcA], workers: 0 });
        assert.deepEqual(fresh.warnings, []);
        const repaired = await repairSnapshots(await openRepo(dir), { forget: true });
        // The new backup stored again what was lost: chunks of unchanged files are the same chunks, so A is
        // whole again. Not so for trees above the backed-up path (the new backup's differ: /tmp's time
        // moved on): a lost tree pack leaves A to be repaired, with what it lost named.
        if (kind === 'tree pack') {
          assert.deepEqual(repaired.repaired.map((x) => x.original), [idA]);
          assert.ok(repaired.repaired[0]!.lostCount > 0);
        } else {
          assert.deepEqual(repaired.repaired, [], JSON.stringify(repaired.repaired));
        }
        const final = await checkRepository(await openRepo(dir), { readData: true, workers: 0 });
        assert.ok(final.ok, JSON.stringify(final.problems));
        const left = await loadSnapshots(await openRepo(dir));
        for (const s of left) {
          const src = s.paths[0] === srcA ? srcA : srcB;
          const target = join(dir, `after-${s.short_id}`);
          const r = await restoreInto(await openRepo(dir), s, target);
          assert.deepEqual(r.warnings, [], `${s.short_id}: ${JSON.stringify(r.warnings)}`);
          // Whole, but for a repaired snapshot, which holds what was left.
          if (s.original === undefined) assert.deepEqual(compareTrees(src, join(target, src)), []);
        }
        assert.ok(left.some((s) => s.id === fresh.id));
        assert.ok(left.some((s) => s.id === idB));
        // A's original survives whenever its snapshot file did and it did not need repairing.
        assert.equal(left.some((s) => s.id === idA), !snapshotGone && kind !== 'tree pack');
      });
    }
  }
});
