/**
 * The everyday commands against one real repository: init, backup, snapshots, ls, find, dump, restore,
 * unlock, and a wrong password. Each step runs the real CLI; key derivation makes each run cost ~0.5 s,
 * so the steps share one repository.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/repo.ts';
import { jsonLines, lifeboat, show } from './run-cli.ts';

/** Every file under `dir` with its size and mtime: a fingerprint that shows whether anything changed. */
async function fingerprint(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath, e.name);
    const st = await stat(p);
    out.push(`${p} ${e.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`);
  }
  return out.sort();
}

const summaryFields = [
  'message_type', 'files_new', 'files_changed', 'files_unmodified', 'dirs_new', 'dirs_changed', 'dirs_unmodified',
  'data_blobs', 'tree_blobs', 'data_added', 'data_added_packed', 'total_files_processed', 'total_bytes_processed',
  'total_duration', 'snapshot_id',
];
const snapshotFields = ['id', 'short_id', 'time', 'hostname', 'username', 'paths', 'tags', 'parent', 'tree', 'program_version', 'summary', 'source', 'consistency'];

void test('init, backup, snapshots, ls, find, dump, restore, unlock, wrong password', async (t) => {
  const dir = await tempDir(t, 'lb-cli-');
  const repo = join(dir, 'repo');
  const data = join(dir, 'data');
  await mkdir(join(data, 'sub'), { recursive: true });
  const big = randomBytes(700 * 1024);
  await writeFile(join(data, 'a.txt'), 'hello\n');
  await writeFile(join(data, 'sub', 'b.md'), '# b\n');
  await writeFile(join(data, 'notes.md'), 'notes\n');
  await writeFile(join(data, 'sub', 'big.bin'), big);
  const cli = (...args: string[]) => lifeboat(['-r', repo, ...args]);

  let firstId = '';
  let secondId = '';

  await t.test('init prints the repository id; a second init refuses with exit 1 and a hint', async () => {
    const r = await cli('--json', 'init');
    assert.equal(r.code, 0, show(r));
    const doc = JSON.parse(r.stdout) as { message_type: string; id: string; repository: string };
    assert.equal(doc.message_type, 'initialized');
    assert.match(doc.id, /^[0-9a-f]{64}$/);
    assert.equal(doc.repository, repo);
    const again = await cli('init');
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /^lifeboat: a repository already exists at /m);
    assert.match(again.stderr, /^hint: /m);
  });

  await t.test('backup --json: a restic-compatible summary line', async () => {
    const r = await cli('--json', 'backup', data, '--tag', 'daily,db', '--tag', 'x');
    assert.equal(r.code, 0, show(r));
    const lines = jsonLines(r.stdout);
    const summary = lines.at(-1)!;
    for (const f of summaryFields) assert.ok(f in summary, `summary lacks ${f}: ${r.stdout}`);
    assert.equal(summary.message_type, 'summary');
    assert.equal(summary.files_new, 4);
    assert.equal(summary.total_bytes_processed, big.length + 6 + 4 + 6);
    assert.match(String(summary.snapshot_id), /^[0-9a-f]{64}$/);
    firstId = String(summary.snapshot_id);
  });

  await t.test('backup (human): files unmodified the second time, snapshot saved', async () => {
    const r = await cli('backup', data);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^Files: +0 new, +0 changed, +4 unmodified$/m);
    assert.match(r.stdout, /^Added to the repository: /m);
    const m = /^snapshot ([0-9a-f]{8}) saved$/m.exec(r.stdout);
    assert.ok(m, r.stdout);
    secondId = m[1]!;
  });

  await t.test('snapshots --json: restic field names; filters; the human table', async () => {
    const r = await cli('snapshots', '--json');
    assert.equal(r.code, 0, show(r));
    const list = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.equal(list.length, 2);
    for (const s of list) for (const f of snapshotFields) assert.ok(f in s, `snapshot lacks ${f}`);
    const [first, second] = list as [Record<string, unknown>, Record<string, unknown>];
    assert.equal(first.id, firstId);
    assert.equal(first.short_id, firstId.slice(0, 8));
    assert.deepEqual(first.tags, ['daily', 'db', 'x']);
    assert.deepEqual(first.paths, [data]);
    assert.equal(second.parent, firstId);
    assert.equal(String(second.id).slice(0, 8), secondId);
    assert.equal((first.source as { kind: string }).kind, 'files');

    const [tagged, human] = await Promise.all([cli('snapshots', '--json', '--tag', 'db'), cli('snapshots')]);
    assert.deepEqual((JSON.parse(tagged.stdout) as Array<{ id: string }>).map((s) => s.id), [firstId]);
    assert.equal(human.code, 0, show(human));
    assert.match(human.stdout, /^ID +Time +Host +Tags +Paths$/m);
    assert.match(human.stdout, new RegExp(`^${firstId.slice(0, 8)} .* daily,db,x +${data}$`, 'm'));
    assert.match(human.stdout, /^2 snapshots$/m);
  });

  await t.test('ls: paths, long format, JSON lines', async () => {
    const [plain, long, json] = await Promise.all([
      cli('ls', 'latest'),
      cli('ls', firstId.slice(0, 8), join(data, 'sub'), '-l'),
      cli('--json', 'ls', 'latest', data),
    ]);
    assert.equal(plain.code, 0, show(plain));
    const paths = plain.stdout.trim().split('\n');
    for (const p of [data, join(data, 'a.txt'), join(data, 'sub'), join(data, 'sub', 'big.bin')]) assert.ok(paths.includes(p), `${p} not listed`);
    assert.equal(long.code, 0, show(long));
    assert.match(long.stdout, new RegExp(`^-[rwxsStT-]{9} +\\S+ +\\S+ +${big.length} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d ${join(data, 'sub', 'big.bin')}$`, 'm'));
    assert.equal(long.stdout.trim().split('\n').length, 2, long.stdout);
    assert.equal(json.code, 0, show(json));
    const lines = jsonLines(json.stdout);
    assert.equal(lines[0]!.struct_type, 'snapshot');
    const nodes = lines.slice(1);
    assert.deepEqual(nodes.map((n) => n.path).sort(), [join(data, 'a.txt'), join(data, 'notes.md'), join(data, 'sub'), join(data, 'sub', 'b.md'), join(data, 'sub', 'big.bin')]);
    const bigNode = nodes.find((n) => n.name === 'big.bin')!;
    for (const f of ['name', 'type', 'path', 'uid', 'gid', 'size', 'mode', 'mtime']) assert.ok(f in bigNode, `node lacks ${f}`);
    assert.equal(bigNode.type, 'file');
    assert.equal(bigNode.size, big.length);

    const missing = await cli('ls', 'latest', join(data, 'nope'));
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /is not in snapshot/);
  });

  await t.test('find: by name and by path, across snapshots', async () => {
    const [byName, byPath] = await Promise.all([cli('find', '*.md'), cli('--json', 'find', `${data}/sub/*`)]);
    assert.equal(byName.code, 0, show(byName));
    const lines = byName.stdout.trim().split('\n').sort();
    const expect = [firstId.slice(0, 8), secondId].flatMap((id) => [`${id}  ${join(data, 'notes.md')}`, `${id}  ${join(data, 'sub', 'b.md')}`]).sort();
    assert.deepEqual(lines, expect);
    assert.equal(byPath.code, 0, show(byPath));
    const hits = jsonLines(byPath.stdout);
    assert.equal(hits.length, 4);
    assert.ok(hits.every((h) => typeof h.snapshot === 'string' && String(h.path).startsWith(join(data, 'sub') + '/')));
  });

  await t.test('dump: a file byte for byte; a folder is an error with a hint', async () => {
    const [file, folder] = await Promise.all([cli('dump', 'latest', join(data, 'sub', 'big.bin')), cli('dump', 'latest', data)]);
    assert.equal(file.code, 0, show(file));
    assert.ok(file.raw.equals(big), 'dumped bytes differ');
    assert.equal(folder.code, 2, show(folder));
    assert.match(folder.stderr, /is a folder/);
    assert.match(folder.stderr, /^hint: .*lifeboat restore .*--include/m);
  });

  await t.test('restore --include: just that one file', async () => {
    const target = join(dir, 'restored');
    const r = await cli('restore', 'latest', '--target', target, '--include', join(data, 'sub', 'b.md'));
    assert.equal(r.code, 0, show(r));
    assert.equal(await readFile(join(target, data, 'sub', 'b.md'), 'utf8'), '# b\n');
    const files = (await readdir(target, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    assert.deepEqual(files.map((e) => e.name), ['b.md']);
    assert.match(r.stdout, /^Summary: restored 1 file/m);
  });

  await t.test('a wrong password exits 12 with a clear message and changes nothing', async () => {
    const before = await fingerprint(repo);
    const [human, json] = await Promise.all([
      lifeboat(['-r', repo, 'backup', data], { env: { LIFEBOAT_PASSWORD: 'not the password' } }),
      lifeboat(['-r', repo, '--json', 'snapshots'], { env: { LIFEBOAT_PASSWORD: 'not the password' } }),
    ]);
    assert.equal(human.code, 12, show(human));
    assert.match(human.stderr, /^lifeboat: wrong password/m);
    assert.match(human.stderr, /^hint: /m);
    assert.doesNotMatch(human.stderr + human.stdout, /not the password/);
    assert.equal(json.code, 12, show(json));
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'WRONG_PASSWORD');
    assert.deepEqual(await fingerprint(repo), before);
  });

  await t.test('unlock: nothing stale is left behind by the commands above', async () => {
    const r = await cli('--json', 'unlock');
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(JSON.parse(r.stdout), []);
  });
});

test('a repository location with a scheme this version does not support is an error, not a folder named "s3:http:"', async (t) => {
  void t;
  // The CLI runs in the project folder: nothing may appear there.
  const stray = new URL('../../s3:http:', import.meta.url);
  const r = await lifeboat(['-r', 's3:http://127.0.0.1:9/bucket', 'init']);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /"s3:" repositories are not supported/);
  await assert.rejects(stat(stray), { code: 'ENOENT' });
});
