import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import { Prisma } from '../generated/prisma/client.js';
import type { Visibility } from '../generated/prisma/enums.js';
import { sessionViewJson, type SessionHead } from './session.view.js';
import { blockViewJson } from './block.view.js';

export interface StoredHead {
  id: string;
  head: SessionHead;
}

/**
 * A session with its blocks as PostgreSQL wrote them: `session` is the session's JSON object
 * as the API shows it, `blocks` each block's JSON object in position order. None is parsed
 * on the way: they go to the cache and the reply as they are.
 */
export interface StoredDocument extends StoredHead {
  session: string;
  blocks: string[];
}

interface HeadRow {
  id: string;
  key: string;
  ownerId: string | null;
  visibility: Visibility;
  memberRoles: Record<string, string>;
  version: number;
  seq: bigint | number;
}

const HEAD_COLUMNS = Prisma.raw(`s.id, s.key, s.owner_id AS "ownerId", s.visibility::text AS visibility,
  s.member_roles AS "memberRoles", s.version, s.seq`);

const toHead = (row: HeadRow): StoredHead => ({
  id: row.id,
  head: {
    key: row.key,
    ownerId: row.ownerId,
    visibility: row.visibility,
    memberRoles: row.memberRoles,
    version: row.version,
    seq: Number(row.seq),
  },
});

/** Reads of a session with its blocks, each one statement, so the blocks always match the seq beside them. */
@Injectable()
export class DocumentsRepository {
  constructor(private readonly db: TransactionHost) {}

  /** What access and version checks need: never the session's state, metadata or blocks. */
  async head(key: string): Promise<StoredHead | null> {
    const rows = await this.db.client.$queryRaw<HeadRow[]>`SELECT ${HEAD_COLUMNS} FROM sessions s WHERE s.key = ${key}`;
    return rows[0] ? toHead(rows[0]) : null;
  }

  /** The bytes the session counts toward its budget (title, state, metadata, blocks' content), or null when unknown. */
  async storedBytes(key: string): Promise<number | null> {
    const rows = await this.db.client.$queryRaw<
      Array<{ bytes: bigint | number }>
    >`SELECT stored_bytes AS bytes FROM sessions WHERE key = ${key}`;
    return rows[0] ? Number(rows[0].bytes) : null;
  }

  /**
   * Inside a transaction: holds the session's row lock (its writers wait) and lets blocks
   * share a position until commit, for rewrites that move many blocks at once.
   */
  async lockForRewrite(key: string): Promise<StoredHead | null> {
    const rows = await this.db.client.$queryRaw<HeadRow[]>`SELECT ${HEAD_COLUMNS} FROM sessions s WHERE s.key = ${key} FOR UPDATE`;
    await this.db.client.$executeRaw`SET CONSTRAINTS blocks_session_id_position_key DEFERRED`;
    return rows[0] ? toHead(rows[0]) : null;
  }

  /**
   * The session and its blocks as JSON text, written by PostgreSQL (`::text`, so the driver
   * hands back strings, not values): one statement, so as of one seq. One row per block (the
   * session's object on the first row only), so no row is larger than a block and the
   * driver reads a session at its size budget in many small pieces, not one large one.
   */
  async document(key: string): Promise<StoredDocument | null> {
    const rows = await this.db.client.$queryRaw<Array<HeadRow & { session: string | null; block: string | null }>>`
      SELECT ${HEAD_COLUMNS}, CASE WHEN r.n IS NULL OR r.n = 1 THEN ${sessionViewJson('s')}::text END AS session, r.block
      FROM sessions s
      LEFT JOIN LATERAL (
        SELECT ${blockViewJson('b', 's.key')}::text AS block, row_number() OVER (ORDER BY b.position) AS n
        FROM blocks b WHERE b.session_id = s.id
      ) r ON true
      WHERE s.key = ${key}
      ORDER BY r.n`;
    if (rows.length === 0) return null;
    const blocks: string[] = [];
    for (const row of rows) if (row.block !== null) blocks.push(row.block);
    return { ...toHead(rows[0]), session: rows[0].session ?? '{}', blocks };
  }
}
