import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import { isoTime } from '../database/sql-json.js';
import { Prisma } from '../generated/prisma/client.js';
import { blockViewJson } from './block.view.js';

/**
 * The block changes of session `sessionId` in (from, to] (aliased `lc`), their payload and
 * prior parsed once (`pj`, `rj`, jsonb) for the small fields; content is taken from the json
 * columns, so it keeps its key order. Only when the log holds the range (`k.kept`).
 */
const blockChanges = (sessionId: string, from: number, to: number | null) => Prisma.sql`(
    SELECT x.*, x.pj->>'id' AS id FROM (
      SELECT c.seq, c.kind, c.payload, c.prior, c.payload::jsonb AS pj, c.prior::jsonb AS rj FROM changes c
      WHERE c.session_id = ${sessionId}::uuid AND c.seq > ${from} ${to === null ? Prisma.empty : Prisma.sql`AND c.seq <= ${to}`}
        AND c.kind LIKE 'block.%' AND (SELECT kept FROM k)
      OFFSET 0) x)`;

/**
 * The block as it was just before the change `l` (a `blockChanges` row), as the columns of a
 * `blocks` row plus `present` (false before a create) and `lost` (the change was written before
 * changes kept what they overwrote): a delete's payload is the block it deleted; an update or
 * a move is its payload with what `prior` says it overwrote, one version down.
 */
const blockBefore = (l: string) =>
  Prisma.raw(`${l}.id, ${l}.seq, ${l}.kind <> 'block.created' AS present,
    CASE WHEN ${l}.kind = 'block.updated' THEN ${l}.rj->>'type' ELSE ${l}.pj->>'type' END AS type,
    CASE WHEN ${l}.kind = 'block.created' THEN NULL WHEN ${l}.kind = 'block.updated' THEN ${l}.prior->'content'
         ELSE ${l}.payload->'content' END AS content,
    CASE WHEN ${l}.kind = 'block.moved' THEN ${l}.rj->>'position' ELSE ${l}.pj->>'position' END AS position,
    (${l}.pj->>'version')::int - CASE WHEN ${l}.kind = 'block.deleted' THEN 0 ELSE 1 END AS version,
    (${l}.pj->>'createdAt')::timestamptz AS created_at,
    (CASE WHEN ${l}.kind = 'block.deleted' THEN ${l}.pj ELSE ${l}.rj END->>'updatedAt')::timestamptz AS updated_at,
    CASE WHEN ${l}.kind = 'block.deleted' THEN ${l}.pj ELSE ${l}.rj END->'updatedBy' AS updated_by,
    (${l}.kind IN ('block.updated', 'block.moved') AND ${l}.prior IS NULL) AS lost`);

/** The block as the change `l` left it, as the columns of a `blocks` row plus `present` (false after a delete). */
const blockAfter = (l: string) =>
  Prisma.raw(`${l}.id, ${l}.kind <> 'block.deleted' AS present, ${l}.pj->>'type' AS type,
    CASE WHEN ${l}.kind = 'block.deleted' THEN NULL ELSE ${l}.payload->'content' END AS content,
    ${l}.pj->>'position' AS position, (${l}.pj->>'version')::int AS version, (${l}.pj->>'createdAt')::timestamptz AS created_at,
    (${l}.pj->>'updatedAt')::timestamptz AS updated_at, ${l}.pj->'updatedBy' AS updated_by`);

/**
 * The session's own fields as of `n` (a `sessions` row `s`; `f` the first session save after
 * `n`, `st` the first one after `n` that replaced the state; either may be null): what that save
 * overwrote, else the fields now. As a json object in `SessionView`'s field order.
 */
const sessionAt = (n: number) =>
  Prisma.sql`json_build_object('key', s.key, 'typeSlug', s.type_slug,
    'title', CASE WHEN f.seq IS NULL THEN to_json(s.title) ELSE f.prior->'title' END,
    'themeId', CASE WHEN f.seq IS NULL THEN to_json(s.theme_id) ELSE f.prior->'themeId' END, 'ownerId', s.owner_id,
    'visibility', CASE WHEN f.seq IS NULL THEN to_json(s.visibility) ELSE f.prior->'visibility' END,
    'version', CASE WHEN f.seq IS NULL THEN s.version ELSE (f.payload->>'version')::int - 1 END, 'seq', ${n}::bigint,
    'metadata', CASE WHEN f.seq IS NULL THEN s.metadata ELSE f.prior->'metadata' END,
    'state', CASE WHEN st.seq IS NULL THEN s.state ELSE st.prior->'state' END,
    'createdAt', ${Prisma.raw(isoTime('s.created_at'))},
    'updatedAt', ${Prisma.raw(isoTime(`CASE WHEN ${n}::bigint = s.seq THEN s.updated_at ELSE COALESCE(cn.at, s.created_at) END`))})`;

/** The first `session.updated` change of session `s` after `n` (with `extra`), as a lateral row. */
const firstSaveAfter = (sessionId: string, n: number, extra: Prisma.Sql = Prisma.empty) => Prisma.sql`LATERAL (
    SELECT c.seq, c.payload, c.prior FROM changes c
    WHERE c.session_id = ${sessionId}::uuid AND c.seq > ${n} AND c.kind = 'session.updated' ${extra}
    ORDER BY c.seq LIMIT 1)`;

/** Whether the log holds every change after `n` and the change `n` itself (n = 0: nothing before the first). */
const keptFrom = (sessionId: string, n: number) => Prisma.sql`(s.seq = ${n}::bigint OR (
    (SELECT count(*) FROM changes c WHERE c.session_id = ${sessionId}::uuid AND c.seq > ${n}) = s.seq - ${n}
    AND (${n}::bigint = 0 OR EXISTS (SELECT 1 FROM changes c WHERE c.session_id = ${sessionId}::uuid AND c.seq = ${n}))))`;

export interface PastDocument {
  /** The session's seq now. */
  seq: number;
  /** Whether the log still reaches back to the seq asked for. */
  kept: boolean;
  /** Whether something the answer needs was overwritten before the log kept what it overwrote. */
  lost: boolean;
  /** The session's JSON object as of the seq (without `role`), and each block's, in position order. */
  session: string;
  blocks: string[];
}

/** One block of a diff: its state before and after (BlockView json text, null: absent), in block id order. */
export interface DiffRow {
  id: string;
  before: string | null;
  after: string | null;
  /** Both present and their type or content differ (compared as text, key order included). */
  rewritten: boolean;
  /** Both present at different positions. */
  moved: boolean;
  lost: boolean;
}

export interface SessionDiff {
  seq: number;
  kept: boolean;
  lost: boolean;
  blocks: DiffRow[];
  /** The session's own fields before and after, when a save of them falls in the range. */
  session: { before: string; after: string } | null;
}

/**
 * Past states of a session, walked back from now through the change log: the blocks a later
 * change touched are taken as that change found them, the others are as they are now. The
 * work is bounded by the changes after the seq asked for (at most the kept log) plus the
 * session's blocks, all in one statement, so the answer is of one moment.
 */
@Injectable()
export class TimeTravelRepository {
  constructor(private readonly db: TransactionHost) {}

  async documentAt(sessionId: string, n: number): Promise<PastDocument | null> {
    const rows = await this.db.client.$queryRaw<
      Array<{ seq: bigint; kept: boolean; session: string | null; block: string | null; lost: boolean | null }>
    >`
      WITH s AS (SELECT * FROM sessions WHERE id = ${sessionId}::uuid),
      k AS (SELECT ${keptFrom(sessionId, n)} AS kept FROM s),
      lc AS MATERIALIZED ${blockChanges(sessionId, n, null)},
      was AS (SELECT DISTINCT ON (lc.id) ${blockBefore('lc')} FROM lc ORDER BY lc.id, lc.seq),
      r AS (
        SELECT b.position, ${blockViewJson('b', 's.key')} AS block, false AS lost
        FROM blocks b, s WHERE b.session_id = s.id AND (SELECT kept FROM k) AND b.id::text NOT IN (SELECT id FROM was)
        UNION ALL
        SELECT w.position, ${blockViewJson('w', 's.key')}, w.lost FROM was w, s WHERE w.present
      ), sv AS (
        SELECT ${sessionAt(n)} AS v, (f.seq IS NOT NULL AND f.prior IS NULL) AS lost
        FROM s LEFT JOIN ${firstSaveAfter(sessionId, n)} f ON true
          LEFT JOIN ${firstSaveAfter(sessionId, n, Prisma.sql`AND c.prior->'state' IS NOT NULL`)} st ON true
          LEFT JOIN changes cn ON cn.session_id = s.id AND cn.seq = ${n}
      )
      SELECT s.seq, k.kept, CASE WHEN n.i IS NULL OR n.i = 1 THEN sv.v::text END AS session, n.block::text AS block,
             COALESCE(n.lost, false) OR sv.lost AS lost
      FROM s CROSS JOIN k CROSS JOIN sv
      LEFT JOIN (SELECT r.block, r.lost, row_number() OVER (ORDER BY r.position COLLATE "C") AS i FROM r) n ON true
      ORDER BY n.i`;
    if (rows.length === 0) return null;
    const blocks: string[] = [];
    let lost = false;
    for (const row of rows) {
      if (row.block !== null) blocks.push(row.block);
      lost ||= row.lost === true;
    }
    return { seq: Number(rows[0].seq), kept: rows[0].kept, lost, session: rows[0].session ?? '{}', blocks };
  }

  /**
   * What changed between `from` and `to`: each block a change in (from, to] touched, as the
   * first of them found it and as the last left it; the session's fields likewise when a save
   * of them is among the changes. Read from the log alone.
   */
  async diff(sessionId: string, from: number, to: number): Promise<SessionDiff | null> {
    const rows = await this.db.client.$queryRaw<Array<DiffRow & { seq: bigint; kept: boolean; id: string | null }>>`
      WITH s AS (SELECT * FROM sessions WHERE id = ${sessionId}::uuid),
      k AS (SELECT ${keptFrom(sessionId, from)} AS kept FROM s),
      lc AS MATERIALIZED ${blockChanges(sessionId, from, to)},
      f AS (SELECT DISTINCT ON (lc.id) ${blockBefore('lc')} FROM lc ORDER BY lc.id, lc.seq),
      l AS (SELECT DISTINCT ON (lc.id) ${blockAfter('lc')} FROM lc ORDER BY lc.id, lc.seq DESC),
      d AS (
        SELECT f.id, CASE WHEN f.present THEN ${blockViewJson('f', 's.key')}::text END AS before,
               CASE WHEN l.present THEN ${blockViewJson('l', 's.key')}::text END AS after,
               f.present AND l.present AND (f.type <> l.type OR f.content::text <> l.content::text) AS rewritten,
               f.present AND l.present AND f.position <> l.position AS moved, f.lost
        FROM f JOIN l ON l.id = f.id, s
      )
      SELECT s.seq, k.kept, d.id, d.before, d.after, COALESCE(d.rewritten, false) AS rewritten, COALESCE(d.moved, false) AS moved,
             COALESCE(d.lost, false) AS lost
      FROM s CROSS JOIN k LEFT JOIN d ON true
      ORDER BY d.id`;
    if (rows.length === 0) return null;
    const [first] = rows;
    const blocks = rows.filter((row) => row.id !== null) as DiffRow[];
    const result: SessionDiff = {
      seq: Number(first.seq),
      kept: first.kept,
      lost: blocks.some((b) => b.lost),
      blocks,
      session: null,
    };
    if (first.kept && (await this.savedBetween(sessionId, from, to))) {
      const [before, after] = await Promise.all([this.sessionFields(sessionId, from), this.sessionFields(sessionId, to)]);
      result.session = { before: before.fields, after: after.fields };
      result.lost ||= before.lost || after.lost;
    }
    return result;
  }

  private async savedBetween(sessionId: string, from: number, to: number): Promise<boolean> {
    const rows = await this.db.client.$queryRaw<Array<{ saved: boolean }>>`
      SELECT EXISTS (SELECT 1 FROM changes WHERE session_id = ${sessionId}::uuid AND seq > ${from} AND seq <= ${to}
                     AND kind = 'session.updated') AS saved`;
    return rows[0]?.saved ?? false;
  }

  /** The session's own fields as of `n` (title, state, metadata, visibility, theme, version). */
  private async sessionFields(sessionId: string, n: number): Promise<{ fields: string; lost: boolean }> {
    const rows = await this.db.client.$queryRaw<Array<{ fields: string; lost: boolean }>>`
      SELECT (SELECT json_build_object('version', v->'version', 'title', v->'title', 'state', v->'state', 'metadata', v->'metadata',
                                       'visibility', v->'visibility', 'themeId', v->'themeId')
              FROM (SELECT ${sessionAt(n)} AS v) x)::text AS fields,
             (f.seq IS NOT NULL AND f.prior IS NULL) AS lost
      FROM sessions s LEFT JOIN ${firstSaveAfter(sessionId, n)} f ON true
        LEFT JOIN ${firstSaveAfter(sessionId, n, Prisma.sql`AND c.prior->'state' IS NOT NULL`)} st ON true
        LEFT JOIN changes cn ON cn.session_id = s.id AND cn.seq = ${n}
      WHERE s.id = ${sessionId}::uuid`;
    return rows[0];
  }
}
