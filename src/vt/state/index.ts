/** The shared-state layer: one interface, three backends, a resilient wrapper, VT_STATE parsing. */
export { byCodeUnits, MemoryStore, type MemoryStoreOptions } from './memory.js';
export {
  defaultStatePath,
  type OpenedState,
  type OpenStateOptions,
  openStateStore,
  parseStateSpec,
  STATE_SPEC_HELP,
  type StateSpec,
  StateSpecError,
} from './open.js';
export { type ResilientOptions, ResilientStore } from './resilient.js';
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './sqlite.js';
export * from './store.js';
