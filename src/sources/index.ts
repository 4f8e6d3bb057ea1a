/**
 * Sources: what Lifeboat protects. Each kind (files, PostgreSQL logical and physical, SQLite) implements one
 * `Source` interface, found through one registry, so the jobs layer, the CLI and the daemon handle a
 * member of a protection group without knowing its kind. A snapshot records its source as one of
 * `SnapshotSource`; `snapshotSource` reads it back typed (the repository stores it as an open record,
 * since it knows nothing of sources).
 *
 * Each kind's own module (./files, ./postgres, ./sqlite, ./hooks) stays importable for what is particular
 * to it (partial restores, PITR, WAL).
 */
import type { Repository, Snapshot, SnapshotEntry } from '../repo/index.ts';
import { backupFiles, captureOptions, type BackupResult, type CaptureOptions } from './files/index.ts';
import { backupPostgresLogical, backupPostgresPhysical, physicalSource as physicalRecord, redactConn, type LogicalSource, type PhysicalSource } from './postgres/index.ts';
import { backupSqlite, sqliteSource as sqliteRecord, type SqliteSource } from './sqlite/index.ts';

/** One member of a protection group, or what one `lifeboat backup` is asked for: one snapshot each. */
export type MemberSpec =
  | { kind: 'files'; paths: string[]; excludes: string[]; oneFileSystem: boolean }
  | { kind: 'postgres'; mode: 'logical'; conn: string; jobs?: number }
  | { kind: 'postgres'; mode: 'physical'; conn: string }
  | { kind: 'sqlite'; path: string };

export interface FilesSource {
  kind: 'files';
}

/** What a snapshot records of its source, by kind. */
export type SnapshotSource = FilesSource | LogicalSource | PhysicalSource | SqliteSource;

/** Per-capture settings that are not part of what is protected. */
export interface CaptureRequest extends CaptureOptions {
  /** Files: the snapshot to compare with (`false`: read everything; default: the latest of the same paths). */
  parent?: SnapshotEntry | false;
  /** Databases: the folder a dump or copy is staged in while it is stored (default: the temp folder). */
  spool?: string;
}

export interface Source<M extends MemberSpec = MemberSpec> {
  /** `files`, `postgres/logical`, `postgres/physical`, `sqlite`. */
  readonly id: string;
  /** Whether this source handles the member. */
  handles(member: MemberSpec): member is M;
  /** Takes one snapshot of the member; `finalize` (in the request) runs before it is saved. */
  capture(repo: Repository, member: M, req: CaptureRequest): Promise<BackupResult>;
  /** This source's record in a snapshot, or undefined when the snapshot is not of this source. */
  recordOf(snap: Pick<Snapshot, 'source'>): SnapshotSource | undefined;
  /** The member in a few words, for logs and status (no secrets: passwords are taken out of connection strings). */
  describe(member: M): string;
}

type Files = Extract<MemberSpec, { kind: 'files' }>;
type Logical = Extract<MemberSpec, { kind: 'postgres'; mode: 'logical' }>;
type Physical = Extract<MemberSpec, { kind: 'postgres'; mode: 'physical' }>;
type Sqlite = Extract<MemberSpec, { kind: 'sqlite' }>;

const filesSource: Source<Files> = {
  id: 'files',
  handles: (m): m is Files => m.kind === 'files',
  capture: (repo, m, req) =>
    backupFiles(repo, {
      paths: m.paths,
      excludes: m.excludes,
      ...(m.oneFileSystem ? { oneFileSystem: true } : {}),
      ...(req.parent !== undefined ? { parent: req.parent } : {}),
      ...captureOptions(req),
    }),
  recordOf: (snap) => (snap.source.kind === 'files' ? { kind: 'files' } : undefined),
  describe: (m) => `files ${m.paths.join(' ')}`,
};

const logicalSource: Source<Logical> = {
  id: 'postgres/logical',
  handles: (m): m is Logical => m.kind === 'postgres' && m.mode === 'logical',
  capture: (repo, m, req) => backupPostgresLogical(repo, { conn: m.conn, ...(m.jobs ? { jobs: m.jobs } : {}), ...(req.spool ? { spool: req.spool } : {}), ...captureOptions(req) }),
  recordOf: (snap) => {
    const s = snap.source as Partial<LogicalSource>;
    return s.kind === 'postgres' && s.mode === 'logical' && typeof s.database === 'object' && s.database !== null ? (s as LogicalSource) : undefined;
  },
  describe: (m) => `postgres logical ${redactConn(m.conn)}`,
};

const physicalSource: Source<Physical> = {
  id: 'postgres/physical',
  handles: (m): m is Physical => m.kind === 'postgres' && m.mode === 'physical',
  capture: (repo, m, req) => backupPostgresPhysical(repo, { conn: m.conn, ...captureOptions(req) }),
  recordOf: physicalRecord,
  describe: (m) => `postgres physical ${redactConn(m.conn)}`,
};

const sqliteSource: Source<Sqlite> = {
  id: 'sqlite',
  handles: (m): m is Sqlite => m.kind === 'sqlite',
  capture: (repo, m, req) => backupSqlite(repo, { file: m.path, ...(req.spool ? { spool: req.spool } : {}), ...captureOptions(req) }),
  recordOf: sqliteRecord,
  describe: (m) => `sqlite ${m.path}`,
};

/** Every source, in the order they are tried. */
export const sources: readonly Source[] = [filesSource, logicalSource, physicalSource, sqliteSource] as readonly Source[];

/** The source that handles a member. */
export function sourceFor<M extends MemberSpec>(member: M): Source<M> {
  const s = sources.find((x) => x.handles(member));
  // The union is closed: every member kind has a source above.
  if (!s) throw new Error(`no source handles ${JSON.stringify(member)}`);
  return s as unknown as Source<M>;
}

/** Takes one snapshot of a member with the source that handles it. */
export function captureMember(repo: Repository, member: MemberSpec, req: CaptureRequest): Promise<BackupResult> {
  return sourceFor(member).capture(repo, member, req);
}

/** A member in a few words (no secrets). */
export function describeMember(member: MemberSpec): string {
  return sourceFor(member).describe(member);
}

/**
 * A snapshot's source, typed; undefined for a kind this build does not know or a record missing what its
 * kind needs (a snapshot written by a newer Lifeboat, or damaged).
 */
export function snapshotSource(snap: Pick<Snapshot, 'source'>): SnapshotSource | undefined {
  for (const s of sources) {
    const r = s.recordOf(snap);
    if (r) return r;
  }
  return undefined;
}
