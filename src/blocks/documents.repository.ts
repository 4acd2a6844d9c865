import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import { sessionJson } from '../sessions/session.view.js';
import { blockJson, type BlockRecord } from './block.view.js';

export interface StoredSession {
  id: string;
  session: Record<string, unknown>;
}

export interface StoredDocument extends StoredSession {
  blocks: BlockRecord[];
}

/** Reads of a session with its blocks, each one statement, so the blocks always match the seq beside them. */
@Injectable()
export class DocumentsRepository {
  constructor(private readonly db: TransactionHost) {}

  async session(key: string): Promise<StoredSession | null> {
    const rows = await this.db.client.$queryRaw<StoredSession[]>`
      SELECT s.id, ${sessionJson('s')} AS session FROM sessions s WHERE s.key = ${key}`;
    return rows[0] ?? null;
  }

  /**
   * Inside a transaction: holds the session's row lock (its writers wait) and lets blocks
   * share a position until commit, for rewrites that move many blocks at once.
   */
  async lockForRewrite(key: string): Promise<void> {
    await this.db.client.$queryRaw`SELECT id FROM sessions WHERE key = ${key} FOR UPDATE`;
    await this.db.client.$executeRaw`SET CONSTRAINTS blocks_session_id_position_key DEFERRED`;
  }

  async document(key: string): Promise<StoredDocument | null> {
    const rows = await this.db.client.$queryRaw<StoredDocument[]>`
      SELECT s.id, ${sessionJson('s')} AS session,
             COALESCE((SELECT jsonb_agg(${blockJson('b')} ORDER BY b.position) FROM blocks b WHERE b.session_id = s.id), '[]'::jsonb) AS blocks
      FROM sessions s WHERE s.key = ${key}`;
    return rows[0] ?? null;
  }
}
