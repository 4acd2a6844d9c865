import { Injectable } from '@nestjs/common';
import { olderThan, type ListCursor } from '../common/pagination.js';
import { TransactionHost } from '../database/transaction-host.js';
import type { Snapshot } from '../generated/prisma/client.js';
import type { Plan } from '../generated/prisma/enums.js';
import type { Actor } from '../contract/actor.js';
import type { Guarded } from '../sessions/session-access.js';

/** How long snapshots are kept, by the plan of the session's owner (no owner: FREE). */
export const SNAPSHOT_RETENTION_DAYS: Record<Plan, number> = { FREE: 7, PRO: 30, ENTERPRISE: 365 };

/** A snapshot without what it holds (its blocks and state): what is shown and listed. */
export type SnapshotRow = Omit<Snapshot, 'blocks' | 'state'>;

/**
 * One block a restore must write: in the snapshot or in the session now, not the same in
 * both. `content` is the snapshot's and comes only when it must be written (a create or a
 * rewrite), so unchanged content is never read out of the database.
 */
export interface RestoreBlock {
  id: string;
  /** The block now: null when the snapshot's block no longer exists (create it). */
  version: number | null;
  currentPosition: string | null;
  /** The snapshot's block: null when the block was added since (delete it). */
  type: string | null;
  position: string | null;
  content: Record<string, unknown> | null;
  /**
   * Its type or content differ from the snapshot's. Content is compared as text: the same
   * values in another key order differ too, so a restore brings back the snapshot's order.
   */
  rewrite: boolean;
  /** About the bytes writing it adds to the session (negative: frees); only to order the writes. */
  delta: number;
}

/** The session's own fields a restore writes back, when they differ from the snapshot's. */
export interface RestoreFields {
  title: string;
  state: Record<string, unknown>;
  delta: number;
}

const cutoff = (days: number) => new Date(Date.now() - days * 24 * 3600_000);

@Injectable()
export class SnapshotsRepository {
  constructor(private readonly db: TransactionHost) {}

  /**
   * Inside a transaction: the session's row lock (block writes and member changes wait for
   * it), and what the access rule reads of the row as of it. A snapshot taken after it reads
   * what was committed before the lock, and nothing can commit in between.
   */
  async lockGuarded(sessionId: string): Promise<Guarded | null> {
    const rows = await this.db.client.$queryRaw<Guarded[]>`
      SELECT owner_id AS "ownerId", visibility::text AS visibility, member_roles AS "memberRoles"
      FROM sessions WHERE id = ${sessionId}::uuid FOR UPDATE`;
    return rows[0] ?? null;
  }

  /** One statement, so the blocks, title and state are those of exactly `seq`. */
  async create(sessionId: string, input: { label: string | null; automatic: boolean; actor: Actor }): Promise<SnapshotRow> {
    const rows = await this.db.client.$queryRaw<SnapshotRow[]>`
      INSERT INTO snapshots (id, session_id, seq, label, automatic, title, state, blocks, created_by, created_at)
      SELECT gen_random_uuid(), s.id, s.seq, ${input.label}, ${input.automatic}, s.title, s.state,
             COALESCE((SELECT json_agg(json_build_object('id', b.id, 'type', b.type, 'content', b.content, 'position', b.position)
                                       ORDER BY b.position)
                       FROM blocks b WHERE b.session_id = s.id), '[]'::json),
             ${JSON.stringify(input.actor)}::jsonb, now()
      FROM sessions s WHERE s.id = ${sessionId}::uuid
      RETURNING id, session_id AS "sessionId", seq, label, automatic, title, created_by AS "createdBy", created_at AS "createdAt"`;
    return rows[0];
  }

  /** Newest first, only those within the retention period. */
  list(sessionId: string, retentionDays: number, limit: number, after?: ListCursor): Promise<SnapshotRow[]> {
    return this.db.client.snapshot.findMany({
      where: {
        sessionId,
        createdAt: { gt: cutoff(retentionDays) },
        ...olderThan(after),
      },
      omit: { blocks: true, state: true },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
  }

  /** The snapshot, if the session has it within the retention period; not what it holds. */
  find(sessionId: string, id: string, retentionDays: number): Promise<SnapshotRow | null> {
    return this.db.client.snapshot.findFirst({
      where: { id, sessionId, createdAt: { gt: cutoff(retentionDays) } },
      omit: { blocks: true, state: true },
    });
  }

  /**
   * What a restore of `snapshotId` must write to the session's blocks, compared in the
   * database: deletes first (in the session's order), then the snapshot's blocks in its order.
   */
  restoreBlocks(sessionId: string, snapshotId: string): Promise<RestoreBlock[]> {
    return this.db.client.$queryRaw<RestoreBlock[]>`
      WITH target AS (
        SELECT (e.block->>'id')::uuid AS id, e.block->>'type' AS type, e.block->'content' AS content,
               e.block->>'position' AS position, e.ord
        FROM snapshots sn CROSS JOIN LATERAL json_array_elements(sn.blocks) WITH ORDINALITY AS e(block, ord)
        WHERE sn.id = ${snapshotId}::uuid
      ), current AS (
        SELECT id, type, content, position, version FROM blocks WHERE session_id = ${sessionId}::uuid
      ), pairs AS (
        SELECT t.*, c.id AS current_id, c.version, c.position AS current_position, c.content AS current_content,
               (c.type <> t.type OR c.content::text <> t.content::text) AS rewrite
        FROM current c FULL JOIN target t ON t.id = c.id
      )
      SELECT COALESCE(id, current_id)::text AS id, version, current_position AS "currentPosition", type, position,
             CASE WHEN current_id IS NULL OR rewrite THEN content END AS content, COALESCE(rewrite, false) AS rewrite,
             (COALESCE(octet_length(content::text), 0) - COALESCE(octet_length(current_content::text), 0))::int AS delta
      FROM pairs
      WHERE current_id IS NULL OR id IS NULL OR rewrite OR position <> current_position
      ORDER BY ord NULLS FIRST, current_position`;
  }

  /** The snapshot's title and state when either differs from the session's now (the state as text, as content is), else null. */
  async restoreFields(sessionId: string, snapshotId: string): Promise<RestoreFields | null> {
    const rows = await this.db.client.$queryRaw<RestoreFields[]>`
      SELECT sn.title, sn.state,
             (octet_length(sn.title) + octet_length(sn.state::text) - octet_length(s.title) - octet_length(s.state::text))::int AS delta
      FROM sessions s JOIN snapshots sn ON sn.id = ${snapshotId}::uuid
      WHERE s.id = ${sessionId}::uuid AND (s.title IS DISTINCT FROM sn.title OR s.state::text <> sn.state::text)`;
    return rows[0] ?? null;
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
