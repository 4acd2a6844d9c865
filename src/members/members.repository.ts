import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import type { Visibility } from '../generated/prisma/enums.js';
import type { Actor } from '../contract/actor.js';
import type { MemberChange } from '../contract/change.js';
import type { MemberRole } from '../sessions/session-access.js';

/** The session row as a member change holds it locked. */
export interface LockedSession {
  id: string;
  key: string;
  title: string;
  ownerId: string | null;
  visibility: Visibility;
  memberRoles: Record<string, string>;
}

/** What a member change left on the session row: the seq it took, and the audience after it. */
export interface MemberChanged {
  seq: number;
  ownerId: string | null;
  visibility: Visibility;
  memberRoles: Record<string, string>;
}

export interface MemberRow {
  userId: string;
  displayName: string;
  role: string;
  addedAt: Date;
  addedBy: string | null;
}

/**
 * Members are kept twice, in one transaction under the session's row lock: the role in
 * `sessions.member_roles`, which every access decision reads from the locked row, and the
 * `session_members` row, which says when and by whom for listing. Every change takes the
 * session's next seq and appends its change.
 */
@Injectable()
export class MembersRepository {
  constructor(private readonly db: TransactionHost) {}

  /** Inside a transaction: the session's row lock (writers and other member changes wait), and the row as of it. */
  async lock(sessionId: string): Promise<LockedSession | null> {
    const rows = await this.db.client.$queryRaw<LockedSession[]>`
      SELECT id, key, title, owner_id AS "ownerId", visibility::text AS visibility, member_roles AS "memberRoles"
      FROM sessions WHERE id = ${sessionId}::uuid FOR UPDATE`;
    return rows[0] ?? null;
  }

  async userExists(userId: string): Promise<boolean> {
    const rows = await this.db.client.$queryRaw<unknown[]>`SELECT 1 FROM users WHERE id = ${userId}::uuid`;
    return rows.length > 0;
  }

  /**
   * Gives `userId` the member role `role`, or takes their membership away (`role` null), and
   * logs `logged` as the change (`owner` when they became the owner). One statement; run it
   * with the session locked.
   */
  async apply(
    sessionId: string,
    userId: string,
    role: MemberRole | null,
    change: { kind: 'member.updated' | 'member.removed'; member: MemberChange; actor: Actor; at: Date; addedBy: string | null },
  ): Promise<MemberChanged> {
    const payload = JSON.stringify(change.member);
    const actor = JSON.stringify(change.actor);
    const rows =
      role === null
        ? await this.db.client.$queryRaw<MemberChanged[]>`
          WITH m AS (
            DELETE FROM session_members WHERE session_id = ${sessionId}::uuid AND user_id = ${userId}::uuid
          ), n AS (
            UPDATE sessions SET member_roles = member_roles - ${userId}::text, seq = seq + 1, updated_at = ${change.at}
            WHERE id = ${sessionId}::uuid
            RETURNING id, seq, owner_id, visibility, member_roles
          ), log AS (
            INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at)
            SELECT n.id, n.seq, ${change.kind}, ${payload}::json, octet_length(${payload}::text), ${actor}::jsonb, ${change.at}
            FROM n
          )
          SELECT seq, owner_id AS "ownerId", visibility::text AS visibility, member_roles AS "memberRoles" FROM n`
        : await this.db.client.$queryRaw<MemberChanged[]>`
          WITH m AS (
            INSERT INTO session_members (session_id, user_id, role, added_at, added_by)
            VALUES (${sessionId}::uuid, ${userId}::uuid, ${role}, ${change.at}, ${change.addedBy}::uuid)
            ON CONFLICT (session_id, user_id) DO UPDATE SET role = EXCLUDED.role
          ), n AS (
            UPDATE sessions SET member_roles = member_roles || jsonb_build_object(${userId}::text, ${role}::text),
                                seq = seq + 1, updated_at = ${change.at}
            WHERE id = ${sessionId}::uuid
            RETURNING id, seq, owner_id, visibility, member_roles
          ), log AS (
            INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at)
            SELECT n.id, n.seq, ${change.kind}, ${payload}::json, octet_length(${payload}::text), ${actor}::jsonb, ${change.at}
            FROM n
          )
          SELECT seq, owner_id AS "ownerId", visibility::text AS visibility, member_roles AS "memberRoles" FROM n`;
    return { ...rows[0], seq: Number(rows[0].seq) };
  }

  /** With the session locked: makes `userId` its owner (the membership changes are `apply`'s). */
  async setOwner(sessionId: string, userId: string): Promise<void> {
    await this.db.client.$executeRaw`UPDATE sessions SET owner_id = ${userId}::uuid WHERE id = ${sessionId}::uuid`;
  }

  /** Members in the order they were added, after `after` (their addedAt and userId). */
  list(sessionId: string, limit: number, after?: { addedAt: Date; userId: string }): Promise<MemberRow[]> {
    const from = after ?? { addedAt: new Date(0), userId: '00000000-0000-0000-0000-000000000000' };
    return this.db.client.$queryRaw<MemberRow[]>`
      SELECT m.user_id AS "userId", u.display_name AS "displayName", m.role, m.added_at AS "addedAt", m.added_by AS "addedBy"
      FROM session_members m JOIN users u ON u.id = m.user_id
      WHERE m.session_id = ${sessionId}::uuid AND (m.added_at, m.user_id) > (${from.addedAt}, ${from.userId}::uuid)
      ORDER BY m.added_at, m.user_id
      LIMIT ${limit}`;
  }

  async member(sessionId: string, userId: string): Promise<MemberRow | null> {
    const rows = await this.db.client.$queryRaw<MemberRow[]>`
      SELECT m.user_id AS "userId", u.display_name AS "displayName", m.role, m.added_at AS "addedAt", m.added_by AS "addedBy"
      FROM session_members m JOIN users u ON u.id = m.user_id
      WHERE m.session_id = ${sessionId}::uuid AND m.user_id = ${userId}::uuid`;
    return rows[0] ?? null;
  }

  /** The owner as the first entry of the member list: added when the session was created. */
  async owner(sessionId: string): Promise<MemberRow | null> {
    const rows = await this.db.client.$queryRaw<MemberRow[]>`
      SELECT s.owner_id AS "userId", u.display_name AS "displayName", 'owner' AS role, s.created_at AS "addedAt", NULL::uuid AS "addedBy"
      FROM sessions s JOIN users u ON u.id = s.owner_id WHERE s.id = ${sessionId}::uuid`;
    return rows[0] ?? null;
  }
}
