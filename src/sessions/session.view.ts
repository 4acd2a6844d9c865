import { Prisma, type Session } from '../generated/prisma/client.js';
import type { Visibility } from '../generated/prisma/enums.js';

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
  blocks?: unknown[];
}

export function toSessionView(row: Session): SessionView {
  return {
    key: row.key,
    typeSlug: row.typeSlug,
    title: row.title,
    themeId: row.themeId,
    ownerId: row.ownerId,
    visibility: row.visibility,
    version: row.version,
    seq: Number(row.seq),
    metadata: row.metadata as Record<string, unknown>,
    state: row.state as Record<string, unknown>,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
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

/** The fields of a SessionChange, in the API's order, from a save or a log row (jsonb keeps no key order); other fields are left out. */
export function toSessionChange(json: Record<string, unknown>): SessionChange {
  const v = json as unknown as SessionChange;
  const change: SessionChange = { version: v.version };
  if (v.title !== undefined) change.title = v.title;
  if (v.state !== undefined) change.state = v.state;
  if (v.metadata !== undefined) change.metadata = v.metadata;
  if (v.visibility !== undefined) change.visibility = v.visibility;
  if (v.themeId !== undefined) change.themeId = v.themeId;
  return change;
}

/** A `sessions` row (aliased `alias`) shaped as a SessionView, for reads in one statement. */
export const sessionJson = (alias: string) =>
  Prisma.raw(
    `jsonb_build_object('key', ${alias}.key, 'typeSlug', ${alias}.type_slug, 'title', ${alias}.title, 'themeId', ${alias}.theme_id,
      'ownerId', ${alias}.owner_id, 'visibility', ${alias}.visibility, 'version', ${alias}.version, 'seq', ${alias}.seq,
      'metadata', ${alias}.metadata, 'state', ${alias}.state, 'createdAt', ${alias}.created_at, 'updatedAt', ${alias}.updated_at)`,
  );

/** The view stored by `sessionJson` (jsonb keeps no key order), in the API's field order and UTC form. */
export function fromSessionJson(json: Record<string, unknown>): SessionView {
  const v = json as unknown as SessionView;
  return {
    key: v.key,
    typeSlug: v.typeSlug,
    title: v.title,
    themeId: v.themeId,
    ownerId: v.ownerId,
    visibility: v.visibility,
    version: v.version,
    seq: Number(v.seq),
    metadata: v.metadata,
    state: v.state,
    createdAt: new Date(v.createdAt).toISOString(),
    updatedAt: new Date(v.updatedAt).toISOString(),
  };
}
