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

/** The roles the owner may give: a member is an editor or a viewer (the owner is the session's `ownerId`). */
export type MemberRole = Exclude<Role, 'owner'>;

/** What the rule reads of a session. */
export interface Guarded {
  ownerId: string | null;
  visibility: Visibility;
  /** The `member_roles` column as stored: `{"<userId>": "editor" | "viewer"}`. */
  memberRoles: unknown;
}

/** `userId`'s member role in the session (`memberRoles` as stored), or null when they are not a member. */
export function memberRoleOf(memberRoles: unknown, userId: string): MemberRole | null {
  const role = (memberRoles as Record<string, unknown> | null | undefined)?.[userId];
  return role === 'editor' || role === 'viewer' ? role : null;
}

const RANK: Readonly<Record<Role, number>> = { viewer: 1, editor: 2, owner: 3 };

/** The least role each action takes. */
const LEAST_ROLE: Readonly<Record<Exclude<SessionAction, 'delete'>, Role>> = { read: 'viewer', write: 'editor', own: 'owner' };

/** The role of a key holder who is neither the owner nor an operator. */
const ROLE_BY_VISIBILITY: Readonly<Record<Visibility, Role | null>> = { link: 'editor', readonly: 'viewer', private: null };

/**
 * The caller's role in the session: its owner and operators `owner`, a member their role,
 * anyone else by visibility (none: they cannot even see it).
 */
export function roleIn(session: Guarded, principal: Principal): Role | null {
  if (principal.kind === 'admin') return 'owner';
  if (principal.kind === 'user') {
    if (session.ownerId === principal.userId) return 'owner';
    const member = memberRoleOf(session.memberRoles, principal.userId);
    if (member) return member;
  }
  return ROLE_BY_VISIBILITY[session.visibility];
}

export const reaches = (role: Role | null, least: Role) => role !== null && RANK[role] >= RANK[least];

/** Whether `role` is lower than `than` (none is lowest). */
export const lowers = (role: Role | null, than: Role | null) => (role === null ? 0 : RANK[role]) < (than === null ? 0 : RANK[than]);

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

export type SqlAction = Exclude<SessionAction, 'delete'>;

/**
 * `may(session, caller, action)` as a SQL condition over the `sessions` row aliased `alias`,
 * generated from the same tables: operators and the owner, else the member's role from the
 * row's `member_roles`, else the role by visibility, against the roles that reach `action`.
 * It reads only the row itself, never another table, so a statement that locked the row
 * decides on the row as the lock holder committed it. `caller` holds SQL expressions of the
 * caller's user id (null when anonymous) and whether they are an operator, so a statement
 * that writes for many callers at once can take them from its rows.
 */
export function accessSql(action: SqlAction, caller: { userId: Prisma.Sql; admin: Prisma.Sql }, alias = 's'): Prisma.Sql {
  const least = LEAST_ROLE[action];
  // Roles and visibilities are this file's constants, never input.
  const reaching = (Object.keys(RANK) as Role[]).filter((role) => reaches(role, least));
  const byVisibility = (Object.entries(ROLE_BY_VISIBILITY) as Array<[Visibility, Role | null]>)
    .filter(([, role]) => role !== null)
    .map(([visibility, role]) => `WHEN '${visibility}' THEN '${role}'`)
    .join(' ');
  const a = Prisma.raw(alias);
  return Prisma.sql`(${caller.admin} OR ${a}.owner_id = ${caller.userId}
    OR COALESCE(${a}.member_roles ->> (${caller.userId})::text, CASE ${a}.visibility::text ${Prisma.raw(byVisibility)} END)
       IN (${Prisma.raw(reaching.map((role) => `'${role}'`).join(', '))}))`;
}

/** `accessSql` for one caller known when the statement is built. */
export const accessSqlFor = (action: SqlAction, principal: Principal, alias = 's'): Prisma.Sql =>
  accessSql(
    action,
    {
      userId: Prisma.sql`${principal.kind === 'user' ? principal.userId : null}::uuid`,
      admin: Prisma.sql`${principal.kind === 'admin'}`,
    },
    alias,
  );

/**
 * The columns that decide who may read a change, from the session row aliased `alias`:
 * `"ownerId"`, and `"memberRoles"` only where the visibility lets no key holder read (the
 * members are needed only then; elsewhere every key holder reads, and a change need not
 * carry them).
 */
export function audienceSql(alias = 's'): Prisma.Sql {
  const hidden = (Object.entries(ROLE_BY_VISIBILITY) as Array<[Visibility, Role | null]>)
    .filter(([, role]) => role === null)
    .map(([visibility]) => `'${visibility}'`)
    .join(', ');
  return Prisma.raw(
    `${alias}.owner_id AS "ownerId", CASE WHEN ${alias}.visibility::text IN (${hidden}) THEN ${alias}.member_roles END AS "memberRoles"`,
  );
}
