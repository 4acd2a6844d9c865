import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';

/** How long a create's Idempotency-Key stays bound to its session. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;

const windowStart = () => new Date(Date.now() - IDEMPOTENCY_WINDOW_HOURS * 3_600_000);

@Injectable()
export class IdempotencyRepository {
  constructor(private readonly db: TransactionHost) {}

  /**
   * Binds (scope, key) to the session, unless a live binding exists. Waits for a
   * concurrent create with the same key to finish, then returns false.
   */
  async claim(scope: string, key: string, requestHash: string, sessionId: string): Promise<boolean> {
    await this.db.client.$executeRaw`
      DELETE FROM idempotency_keys
      WHERE scope = ${scope} AND key = ${key} AND created_at < now() - make_interval(hours => ${IDEMPOTENCY_WINDOW_HOURS})`;
    const inserted = await this.db.client.$executeRaw`
      INSERT INTO idempotency_keys (scope, key, request_hash, session_id)
      VALUES (${scope}, ${key}, ${requestHash}, ${sessionId}::uuid)
      ON CONFLICT (scope, key) DO NOTHING`;
    return inserted === 1;
  }

  /** The live binding of (scope, key): one older than the window is gone, whether or not the sweep has run. */
  find(scope: string, key: string): Promise<{ requestHash: string; sessionId: string } | null> {
    return this.db.client.idempotencyKey.findFirst({
      where: { scope, key, createdAt: { gte: windowStart() } },
      select: { requestHash: true, sessionId: true },
    });
  }

  /** Deletes up to `limit` bindings older than the window; returns how many. */
  async deleteExpired(limit: number): Promise<number> {
    return this.db.client.$executeRaw`
      DELETE FROM idempotency_keys WHERE (scope, key) IN (
        SELECT scope, key FROM idempotency_keys
        WHERE created_at < ${windowStart()}
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)`;
  }
}
