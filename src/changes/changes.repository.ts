import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import type { Change } from '../generated/prisma/client.js';

export type LoggedChange = Pick<Change, 'seq' | 'kind' | 'payload' | 'actor' | 'at'>;

@Injectable()
export class ChangesRepository {
  constructor(private readonly db: TransactionHost) {}

  /**
   * Up to `limit` changes after `since`, in order, cut where their payloads pass `maxBytes`
   * (the first one always comes, whatever its size). The sizes are read from the `bytes`
   * column, so the payloads left out are never read.
   */
  async listAfter(sessionId: string, since: number, limit: number, maxBytes: number): Promise<LoggedChange[]> {
    return this.db.client.$queryRaw<LoggedChange[]>`
      SELECT c.seq, c.kind, c.payload, c.actor, c.at
      FROM (
        SELECT seq, sum(bytes) OVER (ORDER BY seq) AS running, row_number() OVER (ORDER BY seq) AS n
        FROM (SELECT seq, bytes FROM changes WHERE session_id = ${sessionId}::uuid AND seq > ${since} ORDER BY seq LIMIT ${limit}) p
      ) w
      JOIN changes c ON c.session_id = ${sessionId}::uuid AND c.seq = w.seq
      WHERE w.n = 1 OR w.running <= ${maxBytes}
      ORDER BY c.seq`;
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
