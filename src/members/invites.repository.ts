import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import { Prisma } from '../generated/prisma/client.js';
import type { MemberRole } from '../sessions/session-access.js';

export interface InviteRow {
  id: string;
  sessionId: string;
  role: MemberRole;
  maxUses: number | null;
  uses: number;
  expiresAt: Date;
  revokedAt: Date | null;
  createdBy: string | null;
  createdAt: Date;
}

const COLUMNS = Prisma.raw(`id, session_id AS "sessionId", role, max_uses AS "maxUses", uses, expires_at AS "expiresAt",
  revoked_at AS "revokedAt", created_by AS "createdBy", created_at AS "createdAt"`);

/** Invitations, found by the sha-256 of their token (the token itself is never stored). */
@Injectable()
export class InvitesRepository {
  constructor(private readonly db: TransactionHost) {}

  async create(invite: Omit<InviteRow, 'uses' | 'revokedAt'> & { tokenHash: string }): Promise<InviteRow> {
    const rows = await this.db.client.$queryRaw<InviteRow[]>`
      INSERT INTO session_invites (id, session_id, token_hash, role, max_uses, expires_at, created_by, created_at)
      VALUES (${invite.id}::uuid, ${invite.sessionId}::uuid, ${invite.tokenHash}, ${invite.role}, ${invite.maxUses}::int,
              ${invite.expiresAt}, ${invite.createdBy}::uuid, ${invite.createdAt})
      RETURNING ${COLUMNS}`;
    return rows[0];
  }

  async findByHash(tokenHash: string): Promise<InviteRow | null> {
    const rows = await this.db.client.$queryRaw<InviteRow[]>`SELECT ${COLUMNS} FROM session_invites WHERE token_hash = ${tokenHash}`;
    return rows[0] ?? null;
  }

  /** Invites of the session that could still be accepted at `at`: not revoked, not expired, not used up. */
  async countLive(sessionId: string, at: Date): Promise<number> {
    const rows = await this.db.client.$queryRaw<Array<{ live: number }>>`
      SELECT count(*)::int AS live FROM session_invites
      WHERE session_id = ${sessionId}::uuid AND revoked_at IS NULL AND expires_at > ${at} AND (max_uses IS NULL OR uses < max_uses)`;
    return rows[0].live;
  }

  /** Deletes the session's spent invites (revoked, expired or used up at `at`) but the newest `keep`. */
  async trimSpent(sessionId: string, at: Date, keep: number): Promise<void> {
    await this.db.client.$executeRaw`
      DELETE FROM session_invites WHERE id IN (
        SELECT id FROM session_invites
        WHERE session_id = ${sessionId}::uuid
          AND NOT (revoked_at IS NULL AND expires_at > ${at} AND (max_uses IS NULL OR uses < max_uses))
        ORDER BY created_at DESC, id DESC OFFSET ${keep})`;
  }

  /** Newest first, after `after` (its createdAt and id). */
  list(sessionId: string, limit: number, after?: { createdAt: Date; id: string }): Promise<InviteRow[]> {
    const from = after ?? { createdAt: new Date('9999-12-31T00:00:00Z'), id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' };
    return this.db.client.$queryRaw<InviteRow[]>`
      SELECT ${COLUMNS} FROM session_invites
      WHERE session_id = ${sessionId}::uuid AND (created_at, id) < (${from.createdAt}, ${from.id}::uuid)
      ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
  }

  /** Revokes an invite of the session; false when it has none of that id. */
  async revoke(sessionId: string, id: string, at: Date): Promise<boolean> {
    const count = await this.db.client.$executeRaw`
      UPDATE session_invites SET revoked_at = COALESCE(revoked_at, ${at}) WHERE id = ${id}::uuid AND session_id = ${sessionId}::uuid`;
    return count > 0;
  }

  /**
   * Takes one use of the invite if it is still good: not revoked, not expired, not used up.
   * One conditional statement, so of concurrent accepts of a last use exactly one wins (the
   * others wait for its row lock and then find no use left). False: nothing was taken.
   */
  async takeUse(id: string, at: Date): Promise<boolean> {
    const count = await this.db.client.$executeRaw`
      UPDATE session_invites SET uses = uses + 1
      WHERE id = ${id}::uuid AND revoked_at IS NULL AND expires_at > ${at} AND (max_uses IS NULL OR uses < max_uses)`;
    return count > 0;
  }
}
