/**
 * repo/backend: where repository files live. The `Backend` interface and its contract (backend.ts), the
 * local-folder backend, a repository served by another site over HTTPS (rest, and its server half), and a
 * fault-injecting wrapper for tests. Imports only core.
 */
export { fileTypes } from './backend.ts';
export type { Backend, FileInfo, FileReader, FileType, FileWriter, Handle, LoadOptions, OpOptions, ReadOptions, SaveOptions } from './backend.ts';
export { LocalBackend, openLocal } from './local.ts';
export { FaultBackend } from './fault.ts';
export { RestBackend } from './rest.ts';
export type { RestOptions } from './rest.ts';
export { serveBackend } from './rest-server.ts';
export type { RestServeOptions } from './rest-server.ts';
export type { FaultOp, Hold } from './fault.ts';
