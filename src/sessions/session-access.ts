import type { Principal } from '../common/principal.js';
import type { Visibility } from '../contract/session.js';
import { AppError } from '../errors/app-error.js';
import { Prisma } from '../generated/prisma/client.js';

/**
 * The one access rule of a session, for every route, socket event and job: a caller's role
 * in it, what each role may do, and the same rule as SQL for statements that decide access
 * as they write.
 */

/** A caller's role in a session, from most to least. */
export type Role = 'owner' | 'editor' | 'viewer';

/**
 * What a caller asks to do: `read` (the session, its blocks, changes, snapshots, exports,
 * presence), `write` (blocks, the session's own fields, snapshots, generation), `own`
 * (visibility), `delete` (the session: its owner, or any key holder of a session nobody owns).
 */
export type SessionAction = 'read' | 'write' | 'own' | 'delete';

/** What the rule reads of a session. */
export interface Guarded {
  ownerId: string | null;
  visibility: Visibility;
}

const RANK: Readonly<Record<Role, number>> = { viewer: 1, editor: 2, owner: 3 };

/** The least role each action takes. */
const LEAST_ROLE: Readonly<Record<Exclude<SessionAction, 'delete'>, Role>> = { read: 'viewer', write: 'editor', own: 'owner' };

/** The role of a key holder who is neither the owner nor an operator. */
const ROLE_BY_VISIBILITY: Readonly<Record<Visibility, Role | null>> = { link: 'editor', readonly: 'viewer', private: null };

/** The caller's role in the session: its owner and operators `owner`, anyone else by visibility (none: they cannot even see it). */
export function roleIn(session: Guarded, principal: Principal): Role | null {
  if (principal.kind === 'admin') return 'owner';
  if (principal.kind === 'user' && session.ownerId === principal.userId) return 'owner';
  return ROLE_BY_VISIBILITY[session.visibility];
}

const reaches = (role: Role | null, least: Role) => role !== null && RANK[role] >= RANK[least];

export function may(session: Guarded, principal: Principal, action: SessionAction): boolean {
  const role = roleIn(session, principal);
  if (action === 'delete') return session.ownerId === null ? role !== null : reaches(role, 'owner');
  return reaches(role, LEAST_ROLE[action]);
}

/**
 * Throws the refusal unless the caller may: 404 SESSION_NOT_FOUND to whoever may not read it
 * (a hidden session looks unknown), 403 READ_ONLY for a reader's write, 403
 * NOT_SESSION_OWNER for what only its owner may do.
 */
export function checkAccess<T extends Guarded>(session: T | null, principal: Principal, action: SessionAction): T {
  if (!session || !may(session, principal, 'read')) throw new AppError('SESSION_NOT_FOUND');
  if (action === 'read' || may(session, principal, action)) return session;
  if (action === 'write') throw new AppError('READ_ONLY');
  throw new AppError('NOT_SESSION_OWNER', action === 'delete' ? 'Only the owner of the session may delete it.' : undefined);
}

/**
 * `may(session, caller, action)` as a SQL condition over the `sessions` row aliased `alias`,
 * generated from the same tables. `caller` holds SQL expressions of the caller's user id
 * (null when anonymous) and whether they are an operator, so a statement that writes for
 * many callers at once can take them from its rows.
 */
export function accessSql(action: 'read' | 'write', caller: { userId: Prisma.Sql; admin: Prisma.Sql }, alias = 's'): Prisma.Sql {
  const open = (Object.keys(ROLE_BY_VISIBILITY) as Visibility[]).filter((v) => reaches(ROLE_BY_VISIBILITY[v], LEAST_ROLE[action]));
  // Visibilities are this file's constants, never input.
  const byVisibility = open.length > 0 ? `${alias}.visibility IN (${open.map((v) => `'${v}'`).join(', ')})` : 'FALSE';
  return Prisma.sql`(${Prisma.raw(byVisibility)} OR ${Prisma.raw(alias)}.owner_id = ${caller.userId} OR ${caller.admin})`;
}

/** `accessSql` for one caller known when the statement is built. */
export const accessSqlFor = (action: 'read' | 'write', principal: Principal, alias = 's'): Prisma.Sql =>
  accessSql(
    action,
    {
      userId: Prisma.sql`${principal.kind === 'user' ? principal.userId : null}::uuid`,
      admin: Prisma.sql`${principal.kind === 'admin'}`,
    },
    alias,
  );
