/**
 * The shapes the server sends and accepts, as this client sees them. They mirror the
 * server's contract (a type test keeps the two in step), so the package stands alone.
 */

/** Who made a change, as collaborators are told. */
export interface Actor {
  userId: string | null;
  displayName: string;
}

/** A block as the API shows it. */
export interface BlockView {
  id: string;
  sessionKey: string;
  type: string;
  content: Record<string, unknown>;
  position: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  updatedBy: Actor;
}

export type Visibility = 'link' | 'readonly' | 'private';

/** What a `session.updated` change carries: the new version and the fields the save wrote. */
export interface SessionChange {
  version: number;
  title?: string;
  state?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  visibility?: Visibility;
  themeId?: string | null;
}

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
  session?: SessionChange;
  member?: MemberChange;
  actor: Actor;
  at: string;
  /** On the changes an undo or a redo wrote: the seq of the change each one inverts. */
  undoOf?: number;
}

/** One person in a session's room, as the `presence` event lists them. */
export interface Member {
  userId: string | null;
  displayName: string;
  color: string;
  cursor?: { blockId: string; offset: number };
  selection?: unknown;
  status: string;
  socketCount: number;
}
