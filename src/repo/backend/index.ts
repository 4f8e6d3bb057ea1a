/**
 * repo/backend: where repository files live. The `Backend` interface and its contract (backend.ts), the
 * local-folder backend, and a fault-injecting wrapper for tests. Imports only core.
 */
export { fileTypes } from './backend.ts';
export type { Backend, FileInfo, FileReader, FileType, FileWriter, Handle, LoadOptions, OpOptions, ReadOptions, SaveOptions } from './backend.ts';
export { LocalBackend, openLocal } from './local.ts';
export { FaultBackend } from './fault.ts';
export type { FaultOp, Hold } from './fault.ts';
