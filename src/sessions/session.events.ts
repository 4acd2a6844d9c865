import type { Actor } from '../auth/principal.js';
import type { SessionView } from './session.view.js';

/**
 * Published on the in-process bus after the transaction that made the change commits.
 * Subscribers (socket broadcast, cache invalidation, jobs) never run inside a write.
 */
export const SESSION_UPDATED = 'session.updated';
export const SESSION_DELETED = 'session.deleted';

export interface SessionUpdatedEvent {
  kind: typeof SESSION_UPDATED;
  session: SessionView;
  /** True when `visibility` was lowered, so live access must be re-checked. */
  visibilityLowered: boolean;
  actor: Actor;
  at: string;
}

export interface SessionDeletedEvent {
  kind: typeof SESSION_DELETED;
  key: string;
  actor: Actor;
  at: string;
}
