import { Injectable } from '@nestjs/common';
import type { Actor } from '../auth/principal.js';
import { olderThan, type ListCursor } from '../common/pagination.js';
import { TransactionHost } from '../database/transaction-host.js';
import type { Snapshot } from '../generated/prisma/client.js';
import type { Plan } from '../generated/prisma/enums.js';

/** How long snapshots are kept, by the plan of the session's owner (no owner: FREE). */
export const SNAPSHOT_RETENTION_DAYS: Record<Plan, number> = { FREE: 7, PRO: 30, ENTERPRISE: 365 };

export interface SnapshotBlock {
  id: string;
  type: string;
  content: Record<string, unknown>;
  position: string;
}

const cutoff = (days: number) => new Date(Date.now() - days * 24 * 3600_000);

@Injectable()
export class SnapshotsRepository {
  constructor(private readonly db: TransactionHost) {}

  /** One statement, so the blocks, title and state are those of exactly `seq`. */
  async create(sessionId: string, input: { label: string | null; automatic: boolean; actor: Actor }): Promise<Snapshot> {
    const rows = await this.db.client.$queryRaw<Snapshot[]>`
      INSERT INTO snapshots (id, session_id, seq, label, automatic, title, state, blocks, created_by, created_at)
      SELECT gen_random_uuid(), s.id, s.seq, ${input.label}, ${input.automatic}, s.title, s.state,
             COALESCE((SELECT jsonb_agg(jsonb_build_object('id', b.id, 'type', b.type, 'content', b.content, 'position', b.position)
                                        ORDER BY b.position)
                       FROM blocks b WHERE b.session_id = s.id), '[]'::jsonb),
             ${JSON.stringify(input.actor)}::jsonb, now()
      FROM sessions s WHERE s.id = ${sessionId}::uuid
      RETURNING id, session_id AS "sessionId", seq, label, automatic, title, state, blocks,
                created_by AS "createdBy", created_at AS "createdAt"`;
    return rows[0];
  }

  /** Newest first, only those within the retention period. */
  list(sessionId: string, retentionDays: number, limit: number, after?: ListCursor): Promise<Snapshot[]> {
    return this.db.client.snapshot.findMany({
      where: {
        sessionId,
        createdAt: { gt: cutoff(retentionDays) },
        ...olderThan(after),
      },
      omit: { blocks: true, state: true },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    }) as Promise<Snapshot[]>;
  }

  find(sessionId: string, id: string, retentionDays: number): Promise<Snapshot | null> {
    return this.db.client.snapshot.findFirst({ where: { id, sessionId, createdAt: { gt: cutoff(retentionDays) } } });
  }

  async pruneSession(sessionId: string, retentionDays: number): Promise<number> {
    const { count } = await this.db.client.snapshot.deleteMany({ where: { sessionId, createdAt: { lte: cutoff(retentionDays) } } });
    return count;
  }

  /** Every session's expired snapshots, each by its owner's plan (for the cleanup job). */
  async pruneExpired(): Promise<number> {
    const days = SNAPSHOT_RETENTION_DAYS;
    return this.db.client.$executeRaw`
      DELETE FROM snapshots sn USING sessions s LEFT JOIN users u ON u.id = s.owner_id
      WHERE sn.session_id = s.id
        AND sn.created_at < now() - make_interval(days => CASE u.plan WHEN 'ENTERPRISE' THEN ${days.ENTERPRISE}::int
                                                                     WHEN 'PRO' THEN ${days.PRO}::int
                                                                     ELSE ${days.FREE}::int END)`;
  }
}
