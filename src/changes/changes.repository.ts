import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import type { Change } from '../generated/prisma/client.js';

@Injectable()
export class ChangesRepository {
  constructor(private readonly db: TransactionHost) {}

  listAfter(sessionId: string, since: number, limit: number): Promise<Change[]> {
    return this.db.client.change.findMany({
      where: { sessionId, seq: { gt: since } },
      orderBy: { seq: 'asc' },
      take: limit,
    });
  }

  /**
   * Deletes the oldest changes: those at or below `keepAbove`, or older than `cutoff`.
   * Always a prefix of the log, so "the change after `since` is kept" proves nothing
   * after it is missing.
   */
  async prune(sessionId: string, keepAbove: number, cutoff: Date): Promise<number> {
    return this.db.client.$executeRaw`
      DELETE FROM changes
      WHERE session_id = ${sessionId}::uuid
        AND seq <= (SELECT max(seq) FROM changes
                    WHERE session_id = ${sessionId}::uuid AND (seq <= ${keepAbove} OR at < ${cutoff}))`;
  }

  /** Up to `limit` changes older than `cutoff`, in any session: per session a prefix of its log, since it is appended in time order. */
  async pruneOlderThan(cutoff: Date, limit: number): Promise<number> {
    return this.db.client.$executeRaw`
      DELETE FROM changes WHERE ctid IN (SELECT ctid FROM changes WHERE at < ${cutoff} LIMIT ${limit})`;
  }
}
