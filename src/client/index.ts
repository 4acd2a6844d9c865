// The package's entry for browsers and Node.js alike; the Node.js file store is `@tessera/client/file-store`.
export {
  CLIENT_PROTOCOL,
  SessionFeed,
  TesseraClient,
  TesseraError,
  type ClientOptions,
  type Conflict,
  type WriteOptions,
} from './tessera-client.js';
export { Outbox, type Outcome, type OutboxEvents, type OutboxOptions, type SyncStatus } from './outbox.js';
export { MemoryOutboxStore, type Edit, type OutboxEntry, type OutboxStore } from './outbox-store.js';
export { IndexedDbOutboxStore, type IndexedDbFactory } from './indexeddb-store.js';
export { openSessionView, SessionView, type SessionViewEvents, type SessionViewOptions } from './session-view.js';
export type { Actor, BlockView, ChangeEvent, ChangeKind, Member, MemberChange, SessionChange, Visibility } from './protocol.js';
