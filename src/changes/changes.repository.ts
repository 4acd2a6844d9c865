import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import { isoTime } from '../database/sql-json.js';
import { Prisma, type Change } from '../generated/prisma/client.js';

export type LoggedChange = Pick<Change, 'seq' | 'kind' | 'payload' | 'actor' | 'at' | 'undoOf'>;

export interface PageText {
  first: number | null;
  last: number | null;
  /** A JSON array of ChangeEvents. */
  items: string;
}

/** The changes (aliased `c`) of a page: after `since`, at most `limit`, cut once their payloads pass `maxBytes`. */
const page = (sessionId: string, since: number, limit: number, maxBytes: number) => Prisma.sql`(
    SELECT seq, sum(bytes) OVER (ORDER BY seq) AS running, row_number() OVER (ORDER BY seq) AS n
    FROM (SELECT seq, bytes FROM changes WHERE session_id = ${sessionId}::uuid AND seq > ${since} ORDER BY seq LIMIT ${limit}) p
  ) w
  JOIN changes c ON c.session_id = ${sessionId}::uuid AND c.seq = w.seq
  WHERE w.n = 1 OR w.running <= ${maxBytes}`;

/** A stored `BlockRecord` payload (json, aliased `p`) as a BlockView, in its field order; the content as written. */
const payloadBlockJson = (p: string, sessionKey: string) => Prisma.sql`json_build_object(
    'id', ${Prisma.raw(p)}->'id', 'sessionKey', ${sessionKey}::text, 'type', ${Prisma.raw(p)}->'type',
    'content', ${Prisma.raw(p)}->'content', 'position', ${Prisma.raw(p)}->'position', 'version', ${Prisma.raw(p)}->'version',
    'createdAt', ${Prisma.raw(isoTime(`(${p}->>'createdAt')::timestamptz`))},
    'updatedAt', ${Prisma.raw(isoTime(`(${p}->>'updatedAt')::timestamptz`))}, 'updatedBy', ${Prisma.raw(p)}->'updatedBy')`;

/** A stored `session.updated` payload as a SessionChange: its fields in the API's order, others left out. */
const payloadSessionJson = (p: string) =>
  Prisma.raw(`(SELECT json_object_agg(e.key, e.value ORDER BY o.n)
    FROM json_each(${p}) e
    JOIN (VALUES ('version', 1), ('title', 2), ('state', 3), ('metadata', 4), ('visibility', 5), ('themeId', 6)) o(key, n) ON o.key = e.key)`);

/** A `changes` row (aliased `alias`) as a ChangeEvent, with `undoOf` on the changes an undo or a redo wrote. */
const changeEventJson = (alias: string, sessionKey: string) => {
  const event = (tail: string) => {
    const head = Prisma.raw(`'seq', ${alias}.seq, 'kind', ${alias}.kind, 'actor', ${alias}.actor, 'at', ${isoTime(`${alias}.at`)}${tail}`);
    const member = Prisma.raw(`json_build_object('userId', ${alias}.payload->'userId', 'role', ${alias}.payload->'role')`);
    return Prisma.sql`CASE WHEN ${Prisma.raw(alias)}.kind = 'session.updated'
      THEN json_build_object(${head}, 'session', ${payloadSessionJson(`${alias}.payload`)})
      WHEN ${Prisma.raw(alias)}.kind IN ('member.updated', 'member.removed') THEN json_build_object(${head}, 'member', ${member})
      ELSE json_build_object(${head}, 'block', ${payloadBlockJson(`${alias}.payload`, sessionKey)}) END`;
  };
  return Prisma.sql`CASE WHEN ${Prisma.raw(alias)}.undo_of IS NULL THEN ${event('')} ELSE ${event(`, 'undoOf', ${alias}.undo_of`)} END`;
};

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
      SELECT c.seq, c.kind, c.payload, c.actor, c.at, c.undo_of AS "undoOf" FROM ${page(sessionId, since, limit, maxBytes)} ORDER BY c.seq`;
  }

  /** The changes one step (a request or a transaction) wrote, in order. */
  async ofStep(sessionId: string, step: string): Promise<LoggedChange[]> {
    return this.db.client.$queryRaw<LoggedChange[]>`
      SELECT seq, kind, payload, actor, at, undo_of AS "undoOf" FROM changes
      WHERE session_id = ${sessionId}::uuid AND step = ${step}::uuid ORDER BY seq`;
  }

  /**
   * The same page as a JSON array of change events as the API shows them (`ChangeEvent`),
   * written by PostgreSQL, with the first and last seq it holds (null when empty).
   */
  async pageText(session: { id: string; key: string }, since: number, limit: number, maxBytes: number): Promise<PageText> {
    const rows = await this.db.client.$queryRaw<Array<{ first: bigint | null; last: bigint | null; items: string }>>`
      SELECT min(c.seq) AS first, max(c.seq) AS last,
             COALESCE(json_agg(${changeEventJson('c', session.key)} ORDER BY c.seq), '[]'::json)::text AS items
      FROM ${page(session.id, since, limit, maxBytes)}`;
    const [row] = rows;
    return { first: row.first === null ? null : Number(row.first), last: row.last === null ? null : Number(row.last), items: row.items };
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
