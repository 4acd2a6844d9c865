/** What a key holder who is not the owner may do: `link` read and edit, `readonly` read, `private` nothing. */
export type Visibility = 'link' | 'readonly' | 'private';

/** A session as the API shows it. */
export interface SessionView {
  key: string;
  typeSlug: string;
  title: string;
  themeId: string | null;
  ownerId: string | null;
  visibility: Visibility;
  version: number;
  seq: number;
  metadata: Record<string, unknown>;
  state: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** The caller's role in the session. */
  role: 'owner' | 'editor' | 'viewer';
  blocks?: unknown[];
}

/**
 * What a `session.updated` change carries: the new version and the fields the save wrote
 * (`metadata`: the keys it merged, with the new `lastModified`). Never the blocks, never a
 * copy of the whole session, so the change log grows by what changed.
 */
export interface SessionChange {
  version: number;
  title?: string;
  state?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  visibility?: Visibility;
  themeId?: string | null;
}
