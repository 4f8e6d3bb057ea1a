/** Conversion between a file system entry's metadata (fsmeta) and its node in a repository tree. */
import type { TreeNode } from '../../repo/index.ts';
import type { EntryMeta } from './fsmeta.ts';

export function metaToNode(name: string, m: EntryMeta): TreeNode {
  const n: TreeNode = {
    name,
    type: m.type,
    mode: m.mode,
    uid: m.uid,
    gid: m.gid,
    ...(m.user !== undefined ? { user: m.user } : {}),
    ...(m.group !== undefined ? { group: m.group } : {}),
    mtime: m.mtime,
    // A folder's atime changes whenever anything lists it (this backup included): storing it would make
    // every folder's tree differ in every snapshot. Files are read with O_NOATIME, so theirs is kept.
    ...(m.type === 'dir' ? {} : { atime: m.atime }),
    ctime: m.ctime,
    inode: m.inode,
    device_id: m.dev,
    links: m.nlink,
  };
  if (m.type === 'file' || m.type === 'symlink') n.size = m.size;
  if (m.devMajor !== undefined) n.dev_major = m.devMajor;
  if (m.devMinor !== undefined) n.dev_minor = m.devMinor;
  if (m.linkTarget !== undefined) n.linktarget = m.linkTarget;
  if (m.linkTargetRaw !== undefined) n.linktarget_raw = m.linkTargetRaw;
  if (m.xattrs) n.xattrs = m.xattrs;
  return n;
}

export function nodeToMeta(n: TreeNode): EntryMeta {
  const epoch = '1970-01-01T00:00:00.000000000Z';
  const m: EntryMeta = {
    type: n.type,
    mode: n.mode ?? (n.type === 'dir' ? 0o755 : 0o644),
    uid: n.uid ?? 0,
    gid: n.gid ?? 0,
    size: n.size ?? 0,
    mtime: n.mtime ?? epoch,
    atime: n.atime ?? n.mtime ?? epoch,
    ctime: n.ctime ?? epoch,
    inode: n.inode ?? 0,
    dev: n.device_id ?? 0,
    nlink: n.links ?? 1,
  };
  if (n.user !== undefined) m.user = n.user;
  if (n.group !== undefined) m.group = n.group;
  if (n.dev_major !== undefined) m.devMajor = n.dev_major;
  if (n.dev_minor !== undefined) m.devMinor = n.dev_minor;
  if (n.linktarget !== undefined) m.linkTarget = n.linktarget;
  if (n.linktarget_raw !== undefined) m.linkTargetRaw = n.linktarget_raw;
  if (n.xattrs) m.xattrs = n.xattrs;
  return m;
}
