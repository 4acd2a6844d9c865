import type { Actor } from './actor.js';
import type { BlockView } from './block.js';
import type { SessionChange } from './session.js';

export type ChangeKind =
  'block.created' | 'block.updated' | 'block.moved' | 'block.deleted' | 'session.updated' | 'member.updated' | 'member.removed';

/** What a `member.*` change carries: whose role it is and what it became (null: removed). */
export interface MemberChange {
  userId: string;
  role: 'owner' | 'editor' | 'viewer' | null;
}

/** One entry of a session's change log: `seq` is gap-free per session. */
export interface ChangeEvent {
  seq: number;
  kind: ChangeKind;
  block?: BlockView;
  /** `session.updated`: only the fields that changed, never the blocks. */
  session?: SessionChange;
  /** `member.updated` | `member.removed`. */
  member?: MemberChange;
  actor: Actor;
  at: string;
  /** On the changes an undo or a redo wrote: the seq of the change each one inverts. */
  undoOf?: number;
}
