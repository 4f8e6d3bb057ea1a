/**
 * File names are bytes: names that are not valid UTF-8 (Latin-1 from an old system, a truncated multibyte
 * character) are backed up and restored byte-exact, whole folders of them included, and `--delete`,
 * `ls` and check treat them as the distinct names they are.
 */
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decodeName, encodeName, fsPath, isCanonicalName } from '../../../src/core/index.ts';
import { checkRepository, decodeTree, encodeTree, findNode, validName, walkTree, type SnapshotEntry } from '../../../src/repo/index.ts';
import { backupFiles, restoreFiles, type BackupResult } from '../../../src/sources/files/index.ts';
import { newRepo, openRepo, tempDir } from '../../helpers/repo.ts';
import { compareTrees, getXattr, setXattr } from '../../helpers/tree.ts';

function entry(r: BackupResult): SnapshotEntry {
  return { ...r.snapshot, id: r.id, short_id: r.id.slice(0, 8) };
}

/** `dir` + `/` + raw name bytes, as a Buffer path. */
function raw(dir: string, ...bytes: number[][]): Buffer {
  return Buffer.concat([Buffer.from(dir), ...bytes.map((b) => Buffer.concat([Buffer.from('/'), Buffer.from(b)]))]);
}

/** Every name below `dir`, as hex of its bytes, with the file contents: what the kernel has, nothing decoded. */
function bytesListing(dir: Buffer): string[] {
  const out: string[] = [];
  const walk = (d: Buffer, prefix: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true, encoding: 'buffer' })) {
      const name = e.name as unknown as Buffer;
      const p = Buffer.concat([d, Buffer.from('/'), name]);
      const label = `${prefix}/${name.toString('hex')}`;
      if (e.isDirectory()) {
        out.push(`${label}/`);
        walk(p, label);
      } else if (e.isFile()) {
        out.push(`${label} ${readFileSync(p).toString('hex')}`);
      } else {
        out.push(`${label} ${e.isSymbolicLink() ? 'link' : 'other'}`);
      }
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('files: names that are not valid UTF-8', () => {
  it('escapes exactly the bytes that are not UTF-8, and only one string stands for a name', () => {
    const cases: number[][] = [[0x63, 0x61, 0x66, 0xe9], [0xff], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x61, 0x80, 0x62]];
    for (const c of cases) {
      const s = decodeName(Buffer.from(c));
      assert.deepEqual([...encodeName(s)], c);
      assert.ok(isCanonicalName(s));
    }
    assert.equal(decodeName(Buffer.from('café')), 'café');
    assert.equal(fsPath('café'), 'café');
    assert.ok(Buffer.isBuffer(fsPath(decodeName(Buffer.from([0xff])))));
    // Escapes of bytes that form valid UTF-8 would be a second string for 'é': refused.
    assert.equal(isCanonicalName('\udcc3\udca9'), false);
    assert.equal(validName('\udcc3\udca9'), false);
    // Stored as a readable name plus the exact bytes, and read back as the same string, in byte order.
    const a = decodeName(Buffer.from([0x61, 0xff]));
    const b = decodeName(Buffer.from([0x61, 0xfe]));
    const plain = encodeTree([{ name: a, type: 'file' }, { name: b, type: 'file' }, { name: 'a\u00ff', type: 'file' }]);
    const json = JSON.parse(plain.toString()) as { nodes: Array<{ name: string; name_raw?: string }> };
    assert.deepEqual(json.nodes.map((n) => [n.name, n.name_raw]), [['aÿ', undefined], ['a\ufffd', 'Yf4='], ['a\ufffd', 'Yf8=']]);
    assert.deepEqual(decodeTree(plain, 'x').nodes.map((n) => n.name), ['a\u00ff', b, a]);
    // A name_raw that is not exact base64 leaves no usable name.
    assert.equal(decodeTree(Buffer.from('{"nodes":[{"name":"x","name_raw":"!!"}]}'), 'y').nodes[0]!.name, '');
  });

  it('backs up and restores such names byte-exact: files, folders and what is in them, links, xattrs', async (t) => {
    const dir = await tempDir(t);
    const src = join(dir, 'src');
    mkdirSync(src);
    writeFileSync(raw(src, [0x63, 0x61, 0x66, 0xe9]), 'latin-1 café');
    writeFileSync(raw(src, [0x61, 0xff]), 'a-ff');
    writeFileSync(raw(src, [0x61, 0xfe]), 'a-fe'); // the same readable name as a-ff: two entries all the same
    writeFileSync(join(src, 'a\ufffd'), 'a real U+FFFD in the name');
    mkdirSync(raw(src, [0x64, 0x69, 0x72, 0xc3]));
    mkdirSync(raw(src, [0x64, 0x69, 0x72, 0xc3], [0x73, 0x75, 0x62, 0xe2, 0x82]));
    writeFileSync(raw(src, [0x64, 0x69, 0x72, 0xc3], [0x73, 0x75, 0x62, 0xe2, 0x82], [0x6e, 0xf0, 0x9f]), 'deep inside');
    writeFileSync(raw(src, [0x64, 0x69, 0x72, 0xc3], [0x6f, 0x6b]), 'ok name in a bad folder');
    symlinkSync(Buffer.from([0x74, 0xe9]), raw(src, [0x6c, 0x69, 0x6e, 0x6b, 0xe9]));
    linkSync(raw(src, [0x61, 0xff]), raw(src, [0x68, 0x61, 0x72, 0x64, 0xff]));
    const latin = decodeName(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    setXattr(fsPath(join(src, latin)) as string, 'user.note', 'kept');
    const repo = await newRepo(dir);
    const r = await backupFiles(repo, { paths: [src] });
    assert.deepEqual(r.warnings, []);
    assert.equal((await findNode(repo, r.snapshot.tree, join(src, latin)))?.type, 'file');
    const seen: string[] = [];
    await walkTree(repo, r.snapshot.tree, (e) => void seen.push(e.path));
    assert.equal(seen.filter((p) => p.startsWith(src + '/')).length, 10);
    assert.ok((await checkRepository(await openRepo(dir), { readData: true })).ok);
    const target = join(dir, 'target');
    const res = await restoreFiles(await openRepo(dir), entry(r), { target, verify: true });
    assert.deepEqual(res.warnings, []);
    assert.deepEqual(bytesListing(Buffer.from(join(target, src))), bytesListing(Buffer.from(src)));
    assert.deepEqual(compareTrees(src, join(target, src)), []);
    assert.equal(getXattr(fsPath(join(target, src, latin)) as string, 'user.note')?.toString(), 'kept');
    // --delete takes them for the names they are: the extra one goes, the ones in the snapshot stay.
    writeFileSync(raw(join(target, src), [0x78, 0xff]), 'not in the snapshot');
    const again = await restoreFiles(await openRepo(dir), entry(r), { target, delete: true });
    assert.equal(again.removed, 1);
    assert.deepEqual(bytesListing(Buffer.from(join(target, src))), bytesListing(Buffer.from(src)));
    // An unchanged second backup carries them over.
    const second = await backupFiles(await openRepo(dir), { paths: [src] });
    assert.equal(second.snapshot.summary?.files_unmodified, 7);
    // And their folder's tree is the same blob (after the first backup's readlink moved the link's atime).
    const third = await backupFiles(await openRepo(dir), { paths: [src] });
    const subtree = async (b: BackupResult): Promise<string | undefined> => (await findNode(await openRepo(dir), b.snapshot.tree, src))?.subtree;
    assert.equal(await subtree(third), await subtree(second));
  });
});
