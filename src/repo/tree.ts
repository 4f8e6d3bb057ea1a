/**
 * Trees: one directory's entries, stored as a blob of type `tree` (JSON), so an unchanged directory is the
 * same blob in every snapshot and costs nothing. Nodes are sorted by name (byte order of UTF-8).
 *
 * Names come from the repository and are untrusted: `validName` is what every consumer that turns a name
 * into a path must check (restore also re-checks the final path against its target).
 */
import { decodeName, displayName, encodeName, IntegrityError, isCanonicalName, isEscaped, LifeboatError } from '../core/index.ts';
import type { Repository } from './repository.ts';

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev' | 'socket';

export interface TreeNode {
  /**
   * The entry's name. Bytes that are not valid UTF-8 are escaped (core/fsname): stored as a readable
   * `name` and the exact bytes as `name_raw` (format §10); in memory, only this field.
   */
  name: string;
  type: NodeType;
  mode?: number;
  uid?: number;
  gid?: number;
  user?: string;
  group?: string;
  size?: number;
  /** RFC 3339 with nanoseconds, UTC. */
  mtime?: string;
  atime?: string;
  ctime?: string;
  inode?: number;
  device_id?: number;
  links?: number;
  dev_major?: number;
  dev_minor?: number;
  linktarget?: string;
  /** Symlink target bytes (base64) when the target is not valid UTF-8. */
  linktarget_raw?: string;
  /** Extended attributes: name → base64 value. */
  xattrs?: Record<string, string>;
  /** Chunk ids of a file's content, in order. */
  content?: string[];
  /**
   * A directory whose listing is not all it held: entries that could not be read, sockets, or another file
   * system under --one-file-system. `restore --delete` removes nothing directly inside it.
   */
  incomplete?: boolean;
  /** Tree id of a directory. */
  subtree?: string;
}

export interface Tree {
  nodes: TreeNode[];
}

export function encodeTree(nodes: TreeNode[]): Buffer {
  nodes.sort((a, b) => compareNames(a.name, b.name));
  if (!nodes.some((n) => isEscaped(n.name))) return Buffer.from(JSON.stringify({ nodes }));
  return Buffer.from(JSON.stringify({ nodes: nodes.map(storedNode) }));
}

/** A node as stored: an escaped name as its readable form plus its exact bytes. */
function storedNode(n: TreeNode): TreeNode | (TreeNode & { name_raw: string }) {
  if (!isEscaped(n.name)) return n;
  const { name, ...rest } = n;
  return { name: displayName(name), name_raw: encodeName(name).toString('base64'), ...rest };
}

/** Tree order: the names' bytes (escaped ones as the bytes they stand for). */
function compareNames(a: string, b: string): number {
  if (!isEscaped(a) && !isEscaped(b)) return compareUtf8(a, b);
  return Buffer.compare(encodeName(a), encodeName(b));
}

/**
 * Byte order of the UTF-8 encodings of two strings, without encoding them (the sort used to make two
 * Buffers per comparison). UTF-8 byte order is code point order; UTF-16 code unit order differs from it
 * only where a surrogate (a code point above U+FFFF) meets a unit in U+E000..U+FFFF, so those are moved
 * above every other unit before comparing.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

export function decodeTree(plain: Buffer, id: string): Tree {
  let t: Tree;
  try {
    t = JSON.parse(plain.toString('utf8')) as Tree;
  } catch (cause) {
    throw new IntegrityError(`tree ${id}: not valid JSON`, { cause });
  }
  if (!t || !Array.isArray(t.nodes)) throw new IntegrityError(`tree ${id}: no node list`);
  for (const n of t.nodes as Array<TreeNode & { name_raw?: unknown }>) {
    if (typeof n !== 'object' || n === null || n.name_raw === undefined) continue;
    // The exact bytes rule; a name_raw that is not canonical base64 makes the name unusable (refused).
    const raw = typeof n.name_raw === 'string' ? Buffer.from(n.name_raw, 'base64') : undefined;
    n.name = raw !== undefined && raw.toString('base64') === n.name_raw ? decodeName(raw) : '';
    delete n.name_raw;
  }
  return t;
}

/**
 * What a tree refers to, all that check's structure pass needs of it: the chunks its files use, the trees
 * of its folders, and the entries a restore refuses (see treeProblems), which are left out of both.
 */
export interface TreeRefs {
  contents: string[];
  subtrees: string[];
  /** Entries a restore refuses: the name (as JSON text when it is not a plain string) and why. */
  refused: Array<{ name: string; reason: string }>;
}

export function treeRefs(t: Tree): TreeRefs {
  const contents: string[] = [];
  const subtrees: string[] = [];
  const refused = treeProblems(t);
  const skip = new Set(refused.map((r) => r.node));
  for (const n of t.nodes) {
    if (skip.has(n)) continue;
    for (const c of n.content ?? []) contents.push(c);
    if (n.type === 'dir' && n.subtree) subtrees.push(n.subtree);
  }
  return { contents, subtrees, refused: refused.map((r) => ({ name: typeof r.node?.name === 'string' ? r.node.name : JSON.stringify(r.node?.name) ?? 'undefined', reason: r.reason })) };
}

const NODE_TYPES: ReadonlySet<string> = new Set<NodeType>(['file', 'dir', 'symlink', 'fifo', 'chardev', 'blockdev', 'socket']);
const ID = /^[0-9a-f]{64}$/;

/**
 * Why a restore must refuse this entry, or undefined when it is sound. The one rule restore, check and
 * `repair snapshots` share, so that a snapshot check passes is one that restores: an unsafe name, an
 * unknown type, a non-folder holding entries, a folder without its tree, content that is not a list of
 * blob ids, extended attributes that are not name → base64 text (a name with NUL would set another one).
 */
export function nodeProblem(n: TreeNode): string | undefined {
  if (typeof n !== 'object' || n === null) return 'not an entry';
  if (!validName(n.name)) return `unsafe name ${JSON.stringify(n.name) ?? 'undefined'}`;
  if (typeof n.type !== 'string' || !NODE_TYPES.has(n.type)) return `unknown entry type ${JSON.stringify(n.type) ?? 'undefined'}`;
  if (n.type === 'dir') {
    if (typeof n.subtree !== 'string' || !ID.test(n.subtree)) return 'folder without a valid tree';
  } else if (n.subtree !== undefined) {
    return `${n.type} with entries stored beneath it`;
  }
  if (n.content !== undefined) {
    if (!Array.isArray(n.content) || n.content.some((c) => typeof c !== 'string' || !ID.test(c))) return 'content that is not a list of blob ids';
    if (n.type !== 'file' && n.content.length > 0) return `${n.type} with file content`;
  }
  if (n.xattrs !== undefined) {
    if (typeof n.xattrs !== 'object' || n.xattrs === null || Array.isArray(n.xattrs)) return 'extended attributes that are not a map';
    for (const [k, v] of Object.entries(n.xattrs)) {
      if (k === '' || k.includes('\0')) return `extended attribute with an invalid name ${JSON.stringify(k)}`;
      if (typeof v !== 'string') return `extended attribute ${k} without a value`;
    }
  }
  return undefined;
}

/** The entries of a tree a restore refuses: each unsound one (nodeProblem), and every repeat of a name. */
export function treeProblems(t: Tree): Array<{ node: TreeNode; reason: string }> {
  const out: Array<{ node: TreeNode; reason: string }> = [];
  const seen = new Set<string>();
  for (const n of t.nodes) {
    const reason = nodeProblem(n);
    if (reason !== undefined) out.push({ node: n, reason });
    else if (seen.has(n.name)) out.push({ node: n, reason: 'a second entry with the same name' });
    else seen.add(n.name);
  }
  return out;
}

export async function loadTree(repo: Repository, id: string, signal?: AbortSignal): Promise<Tree> {
  return decodeTree(await repo.loadBlob('tree', id, signal), id);
}

/**
 * A name is safe to join to a path: not empty, not `.` or `..`, no `/` and no NUL, and (when it holds
 * escaped bytes) the one string its bytes decode to, so two entries cannot name one file.
 */
export function validName(name: unknown): name is string {
  return typeof name === 'string' && name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && isCanonicalName(name);
}

export interface WalkEntry {
  /** Absolute path inside the snapshot, e.g. `/srv/share/report.odt`. */
  path: string;
  node: TreeNode;
}

/**
 * Depth-first walk of a tree, parents before children. `enter(entry)` may return false to skip a
 * directory's contents. Nodes with unsafe names are passed to `onUnsafe` and never descended into.
 */
export async function walkTree(
  repo: Repository,
  treeId: string,
  visit: (e: WalkEntry) => boolean | void | Promise<boolean | void>,
  opts: {
    prefix?: string;
    signal?: AbortSignal;
    onUnsafe?: (parent: string, node: TreeNode) => void;
    /** A folder whose tree cannot be read (damage): passed here and skipped, instead of ending the walk. */
    onDamaged?: (path: string, err: LifeboatError) => void;
  } = {},
): Promise<void> {
  let tree: Tree;
  try {
    tree = await loadTree(repo, treeId, opts.signal);
  } catch (err) {
    if (!opts.onDamaged || !(err instanceof LifeboatError) || (err.code !== 'INTEGRITY' && err.code !== 'CORRUPT')) throw err;
    opts.onDamaged(opts.prefix || '/', err);
    return;
  }
  const prefix = opts.prefix ?? '';
  for (const node of tree.nodes) {
    if (!validName(node.name)) {
      opts.onUnsafe?.(prefix || '/', node);
      continue;
    }
    const path = `${prefix}/${node.name}`;
    const descend = await visit({ path, node });
    if (node.type === 'dir' && node.subtree && descend !== false) {
      await walkTree(repo, node.subtree, visit, { ...opts, prefix: path });
    }
  }
}

/** Find the node at an absolute snapshot path (`/` is the root, returned as a synthetic dir). */
export async function findNode(repo: Repository, rootTree: string, path: string, signal?: AbortSignal): Promise<TreeNode | undefined> {
  const parts = path.split('/').filter((p) => p !== '');
  let node: TreeNode = { name: '', type: 'dir', subtree: rootTree };
  for (const part of parts) {
    if (node.type !== 'dir' || !node.subtree) return undefined;
    const tree = await loadTree(repo, node.subtree, signal);
    const next = tree.nodes.find((n) => n.name === part);
    if (!next) return undefined;
    node = next;
  }
  return node;
}
