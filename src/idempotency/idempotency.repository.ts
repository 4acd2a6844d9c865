import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';

/** How long a write's recorded answer is replayed to a retry with the same key. */
export const IDEMPOTENCY_RECORD_HOURS = 24;

/** A write's answer as recorded: what a retry with the same key gets back. */
export interface RecordedAnswer {
  fingerprint: string;
  status: number;
  etag: string | null;
  /** JSON text, null for an answer without a body (204). */
  body: string | null;
}

const windowStart = () => new Date(Date.now() - IDEMPOTENCY_RECORD_HOURS * 3_600_000);

@Injectable()
export class IdempotencyRecordsRepository {
  constructor(private readonly db: TransactionHost) {}

  /**
   * The live record of (scope, key). One older than the window is gone, whether or not the
   * sweep has run: deleted here, so that a write recording the key anew does not collide with it.
   */
  async find(scope: string, key: string): Promise<RecordedAnswer | null> {
    const since = windowStart();
    const rows = await this.db.client.$queryRaw<Array<RecordedAnswer & { live: boolean }>>`
      SELECT fingerprint, status, etag, body, created_at >= ${since} AS live
      FROM idempotency_records WHERE scope = ${scope} AND key = ${key}`;
    const row = rows[0];
    if (!row) return null;
    if (row.live) return { fingerprint: row.fingerprint, status: row.status, etag: row.etag, body: row.body };
    await this.db.client.$executeRaw`
      DELETE FROM idempotency_records WHERE scope = ${scope} AND key = ${key} AND created_at < ${since}`;
    return null;
  }

  /**
   * Records the answer, in the caller's transaction when there is one (the write's own). An
   * expired record of the same key is replaced. False when a live record exists: another run
   * of this key answered first (inserted by a transaction still open, it waits for that one).
   */
  async insert(scope: string, key: string, answer: RecordedAnswer): Promise<boolean> {
    const inserted = await this.db.client.$executeRaw`
      INSERT INTO idempotency_records (scope, key, fingerprint, status, etag, body)
      VALUES (${scope}, ${key}, ${answer.fingerprint}, ${answer.status}, ${answer.etag}, ${answer.body})
      ON CONFLICT (scope, key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, etag = EXCLUDED.etag,
            body = EXCLUDED.body, created_at = EXCLUDED.created_at
        WHERE idempotency_records.created_at < ${windowStart()}`;
    return inserted === 1;
  }

  /** Deletes up to `limit` records older than the window; returns how many. */
  deleteExpired(limit: number): Promise<number> {
    return this.db.client.$executeRaw`
      DELETE FROM idempotency_records WHERE (scope, key) IN (
        SELECT scope, key FROM idempotency_records
        WHERE created_at < ${windowStart()}
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)`;
  }
}
