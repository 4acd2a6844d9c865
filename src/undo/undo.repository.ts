import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import { Prisma } from '../generated/prisma/client.js';
import type { InverseBase, StepChange } from './inverse.js';
import type { LoggedStepChange } from './undo-stack.js';

/** A change written alone has no step id: it is a step of its own, named after its seq. */
const SEQ_STEP = 'seq:';

@Injectable()
export class UndoRepository {
  constructor(private readonly db: TransactionHost) {}

  /** Inside a transaction: one undo or redo at a time per user and session, on every instance. */
  async lock(sessionId: string, userId: string): Promise<void> {
    await this.db.client.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`undo:${sessionId}:${userId}`}, 0))`;
  }

  /** The user's content changes (blocks, the session's fields) the log keeps, oldest first, and the oldest seq it keeps. */
  async stepsOf(sessionId: string, userId: string): Promise<{ changes: LoggedStepChange[]; oldestKept: number }> {
    const rows = await this.db.client.$queryRaw<Array<{ seq: bigint; step: string; undoOf: bigint | null }>>`
      SELECT seq, COALESCE(step::text, ${SEQ_STEP} || seq) AS step, undo_of AS "undoOf" FROM changes
      WHERE session_id = ${sessionId}::uuid AND actor->>'userId' = ${userId} AND kind NOT LIKE 'member.%'
      ORDER BY seq`;
    const oldest = await this.db.client.$queryRaw<Array<{ seq: bigint | null }>>`
      SELECT min(seq) AS seq FROM changes WHERE session_id = ${sessionId}::uuid`;
    return {
      changes: rows.map((r) => ({ seq: Number(r.seq), step: r.step, undoOf: r.undoOf === null ? null : Number(r.undoOf) })),
      oldestKept: Number(oldest[0]?.seq ?? 0),
    };
  }

  /** What inverting a step that ended at `lastSeq` and touched `ids` is based on (see InverseBase). */
  async baseOf(sessionId: string, userId: string, lastSeq: number, ids: string[]): Promise<InverseBase> {
    const others = await this.db.client.$queryRaw<Array<{ id: string | null; kind: string }>>`
      SELECT DISTINCT payload->>'id' AS id, kind FROM changes
      WHERE session_id = ${sessionId}::uuid AND seq > ${lastSeq} AND kind NOT LIKE 'member.%'
        AND actor->>'userId' IS DISTINCT FROM ${userId}`;
    const blocks = await this.db.client.$queryRaw<Array<{ id: string; version: number }>>`
      SELECT id::text, version FROM blocks WHERE session_id = ${sessionId}::uuid AND id = ANY(${ids}::uuid[])`;
    const session = await this.db.client.$queryRaw<Array<{ version: number }>>`SELECT version FROM sessions WHERE id = ${sessionId}::uuid`;
    return {
      versions: new Map(blocks.map((b) => [b.id, b.version])),
      sessionVersion: session[0]?.version ?? 0,
      touched: new Set(others.flatMap((o) => (o.id && o.kind !== 'session.updated' ? [o.id] : []))),
      sessionTouched: others.some((o) => o.kind === 'session.updated'),
    };
  }

  /** The changes of one step, with what each overwrote. */
  async changesOf(sessionId: string, step: string): Promise<StepChange[]> {
    const rows = await this.db.client.$queryRaw<Array<StepChange & { seq: bigint }>>`
      SELECT seq, kind, payload, prior FROM changes
      WHERE session_id = ${sessionId}::uuid
        AND ${step.startsWith(SEQ_STEP) ? Prisma.sql`seq = ${Number(step.slice(SEQ_STEP.length))} AND step IS NULL` : Prisma.sql`step = ${step}::uuid`}
      ORDER BY seq`;
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }
}
