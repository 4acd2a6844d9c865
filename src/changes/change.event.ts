import type { Actor } from '../auth/principal.js';
import type { BlockView } from '../blocks/block.view.js';
import type { Visibility } from '../generated/prisma/enums.js';
import type { SessionChange } from '../sessions/session.view.js';

/**
 * Domain events, published on the in-process bus after the transaction that made the
 * change commits. Subscribers (cache invalidation, socket broadcast, jobs) never run
 * inside a write, and a write is acknowledged only once they have run.
 */
export const CHANGE_COMMITTED = 'change.committed';
export const BLOCK_CONFLICT = 'block.conflict';

export type ChangeKind = 'block.created' | 'block.updated' | 'block.moved' | 'block.deleted' | 'session.updated';

/** One entry of a session's change log: `seq` is gap-free per session. */
export interface ChangeEvent {
  seq: number;
  kind: ChangeKind;
  block?: BlockView;
  /** `session.updated`: only the fields that changed, never the blocks. */
  session?: SessionChange;
  actor: Actor;
  at: string;
}

export interface CommittedChange {
  sessionKey: string;
  /** Internal: for server-side subscribers only, never sent to clients. */
  sessionId: string;
  change: ChangeEvent;
  /** Internal: the session's visibility as the change's own statement saw it, which decides who may receive it. */
  visibility: Visibility;
  /** Internal, `session.updated` only: the owner, who with `visibility` decides who may still read it. */
  ownerId?: string | null;
  /** `session.updated` that lowered `visibility`: live access must be re-checked. */
  visibilityLowered?: boolean;
}

/** A write refused for a stale version, so collaborators see who is racing. */
export interface BlockConflictEvent {
  sessionKey: string;
  /** Internal: who may see `current`. */
  visibility: Visibility;
  blockId: string;
  attemptedVersion: number;
  current: BlockView;
  actor: Actor;
  /** The connection whose write was refused (it gets the refusal as its answer instead). */
  origin?: string;
}
