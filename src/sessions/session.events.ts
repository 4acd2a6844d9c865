import type { Actor } from '../auth/principal.js';

/** Published after a session is deleted (its change log goes with it, so this is not a ChangeEvent). */
export const SESSION_DELETED = 'session.deleted';

export interface SessionDeletedEvent {
  key: string;
  actor: Actor;
  at: string;
}
