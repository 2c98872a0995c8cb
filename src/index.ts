/** `statehub`: run a hub in your own process, and the types of what it serves. */
export { startHub, type Hub, type HubOptions } from './hub/hub.js';
export type { Hook, HookEvent } from './hub/hooks.js';
export type { Transition } from './hub/live-set.js';
export { STATES, type StateOf, type RecordOf, type Contexts, type ProbeContext } from './protocol/states.js';
export { MemoryStore } from './store/memory.js';
export type { Store, Commit, Timer, StoreOptions } from './store/store.js';
export { ConflictError, StoreUnavailableError } from './store/store.js';
export { Monitor, type MonitorOptions, type ConnectionState } from './client/monitor.js';
export { View, type ViewChange } from './client/view.js';
export { KINDS, topState, type ActorRecord, type Kind, type LogEntry, type Snapshot, type PersistedSnapshot } from './protocol/record.js';
export type { Filter } from './protocol/monitor.js';
export { applyDelta, toDelta, DeltaBaseError, type DeltaEntry, type StreamEntry, type PatchOperation } from './protocol/delta.js';
export type { JobSubmission } from './protocol/jobs.js';
export type { RecentAnswer, RecentBucket, RecentTransition } from './protocol/recent.js';
export { HubError, type ErrorBody, type ErrorCode } from './protocol/errors.js';
export type { Tokens, Role } from './hub/auth.js';
