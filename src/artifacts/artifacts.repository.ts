import { Injectable } from '@nestjs/common';
import { foreignKeyViolation } from '../database/sql-errors.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import type { Artifact } from '../generated/prisma/client.js';

export type NewArtifact = Omit<Artifact, 'createdAt'>;

export interface ArtifactTotals {
  total: number;
  storedBytes: number;
  due: number;
}

@Injectable()
export class ArtifactsRepository {
  constructor(private readonly db: TransactionHost) {}

  /** False when the id exists: a retried job stores its artifact once. SESSION_NOT_FOUND when the session was deleted meanwhile. */
  async insert(artifact: NewArtifact): Promise<boolean> {
    const { count } = await this.db.client.artifact.createMany({ data: [artifact], skipDuplicates: true }).catch((error: unknown) => {
      if (foreignKeyViolation(error)) throw new AppError('SESSION_NOT_FOUND', 'The session was deleted before its artifact was stored.');
      throw error;
    });
    return count === 1;
  }

  find(id: string): Promise<Artifact | null> {
    return this.db.client.artifact.findUnique({ where: { id } });
  }

  /**
   * Deletes up to `limit` artifacts created before `cutoff`, or whose session is gone, and
   * returns them. Rows another cleanup holds are skipped, so concurrent runs split the work
   * and no artifact is counted twice.
   */
  deleteDue(cutoff: Date, limit: number): Promise<Array<{ id: string; storageKey: string; storedBytes: bigint }>> {
    return this.db.client.$queryRaw`
      DELETE FROM artifacts WHERE id IN (
        SELECT id FROM artifacts
        WHERE created_at < ${cutoff} OR session_id IS NULL
        ORDER BY created_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING id, storage_key AS "storageKey", stored_bytes AS "storedBytes"`;
  }

  async totals(cutoff: Date): Promise<ArtifactTotals> {
    const [row] = await this.db.client.$queryRaw<Array<{ total: bigint; stored: bigint | null; due: bigint }>>`
      SELECT count(*) AS total, sum(stored_bytes) AS stored,
             count(*) FILTER (WHERE created_at < ${cutoff} OR session_id IS NULL) AS due
      FROM artifacts`;
    return { total: Number(row.total), storedBytes: Number(row.stored ?? 0), due: Number(row.due) };
  }
}
