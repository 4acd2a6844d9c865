import { Prisma, type Session } from '../generated/prisma/client.js';
import type { Visibility } from '../generated/prisma/enums.js';
import { isoTime } from '../database/sql-json.js';
import type { SessionChange, SessionView } from '../contract/session.js';
import type { Role } from './session-access.js';

/** The session as the API shows it to a caller whose role in it is `role`. */
export function toSessionView(row: Session, role: Role): SessionView {
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
    role,
  };
}

/** The fields of a SessionChange, in the API's order, from a save or a log row; other fields are left out. */
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

/**
 * What access decisions and version checks read of a session: its owner, visibility, members,
 * version and seq, never its title, state, metadata or blocks, whatever their size.
 */
export interface SessionHead {
  key: string;
  ownerId: string | null;
  visibility: Visibility;
  /** Every member's role (bounded by SESSION_MEMBER_LIMIT, so the head stays small). */
  memberRoles: Record<string, string>;
  version: number;
  seq: number;
}

/** A `sessions` row (aliased `alias`) as the API shows it, a json object in `SessionView`'s field order. */
export const sessionViewJson = (alias: string) =>
  Prisma.raw(
    `json_build_object('key', ${alias}.key, 'typeSlug', ${alias}.type_slug, 'title', ${alias}.title, 'themeId', ${alias}.theme_id,
      'ownerId', ${alias}.owner_id, 'visibility', ${alias}.visibility, 'version', ${alias}.version, 'seq', ${alias}.seq,
      'metadata', ${alias}.metadata, 'state', ${alias}.state, 'createdAt', ${isoTime(`${alias}.created_at`)},
      'updatedAt', ${isoTime(`${alias}.updated_at`)})`,
  );
