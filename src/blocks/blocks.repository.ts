import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import { Prisma, type BlockRevision } from '../generated/prisma/client.js';
import type { Visibility } from '../generated/prisma/enums.js';
import { fitsBudget, jsonBytes } from '../sessions/session-budget.js';
import { blockJson, type BlockRecord } from '../sessions/block.view.js';
import type { Actor } from '../contract/actor.js';
import { accessSql, audienceSql } from '../sessions/session-access.js';
import { OUTCOME_STATUS, type WriteRecord } from '../idempotency/recorded-write.js';

/** Who writes and where: the session key and what the writer may do there. */
export interface WriteAccess {
  key: string;
  userId: string | null;
  admin: boolean;
}

export interface WriteMeta {
  actor: Actor;
  at: Date;
  /** The seq of the change this write inverts (an undo or a redo). */
  undoOf?: number;
}

export interface Written {
  block: BlockRecord;
  seq: number;
  sessionId: string;
  /** The session's visibility as this write's statement saw it: who may receive the change. */
  visibility: Visibility;
  /** With `visibility`, who may receive it: the owner, and the members of a private session (null otherwise). */
  ownerId: string | null;
  memberRoles: Record<string, string> | null;
}

export interface NewBlock {
  id: string;
  type: string;
  content: Record<string, unknown>;
  position: string;
  /** 1, unless an undo brings a deleted block back as it was. */
  version?: number;
}

/** One create: who writes where, the new block, and the caller's idempotency key (recorded with the outcome if it applies). */
export interface BlockCreate {
  access: WriteAccess;
  block: NewBlock;
  meta: WriteMeta;
  record?: WriteRecord;
}

export interface BlockChange {
  type?: string;
  content?: Record<string, unknown>;
  position?: string;
}

/** What a refused write finds when it looks: the session (if any) and the block (if any). */
export interface WriteTarget {
  sessionId: string;
  ownerId: string | null;
  visibility: Visibility;
  memberRoles: Record<string, string>;
  blockCount: number;
  storedBytes: number;
  /** The bytes the proposed content would store (null when none was proposed). */
  contentBytes: number | null;
  block: BlockRecord | null;
  /** The bytes the block's stored content counts (null without a block). */
  blockBytes: number | null;
}

/** One update or move: who writes, which block at which version, what changes. */
export interface BlockUpdate {
  access: WriteAccess;
  id: string;
  version: number;
  change: BlockChange;
  kind: 'block.updated' | 'block.moved';
  meta: WriteMeta;
  /** The caller's idempotency key, recorded by the statement with the outcome if the write applies. */
  record?: WriteRecord & { merged: boolean };
}

export interface UpdateLimits {
  historyKeep: number;
  maxBytes: number;
}

/** The session-wide caps a block write is held to. */
export interface BlockLimits {
  maxBlocks: number;
  maxBytes: number;
}

/** Old revisions are deleted on every this-many-th version, not on every write; reads never show more than the kept ones. */
const HISTORY_PRUNE_EVERY = 16;

/** The change's row: its payload and the payload's bytes (for byte-bounded pages). */
const logged = (payload: Prisma.Sql) => Prisma.sql`${payload}, octet_length((${payload})::text)`;

/** What an update or a move (aliased `q`, with the block's `old_*` columns) overwrote, for time travel and undo. */
const PRIOR = Prisma.raw(`CASE WHEN q.kind = 'block.moved'
    THEN json_build_object('position', q.old_position, 'updatedAt', q.old_updated_at, 'updatedBy', q.old_updated_by)
    ELSE json_build_object('type', q.old_type, 'content', q.old_content, 'updatedAt', q.old_updated_at, 'updatedBy', q.old_updated_by) END`);

/**
 * The idempotency record of a single write, inserted by the write's own statement: its
 * outcome (`block` as `blockJson`, the seq) for a replay. A live record of the same key makes
 * the statement fail (and write nothing) on the primary key.
 */
const recordedWith = (record: WriteRecord | undefined, block: string, from: Prisma.Sql, seq: string) =>
  record
    ? Prisma.sql`, idem AS (
        INSERT INTO idempotency_records (scope, key, fingerprint, status, body)
        SELECT ${record.scope}, ${record.key}, ${record.fingerprint}, ${OUTCOME_STATUS},
               json_build_object('block', ${blockJson(block)}, 'seq', ${Prisma.raw(seq)})::text
        FROM ${from}
      )`
    : Prisma.empty;

/** A create of a group commit left out of its statement: its key is recorded already (a retry), so it is decided alone. */
export const KEY_RECORDED = 'key-recorded' as const;

const writable = (a: WriteAccess) => accessSql('write', { userId: Prisma.sql`${a.userId}::uuid`, admin: Prisma.sql`${a.admin}` });

/**
 * Every write is one statement: lock the session row (so a session's seq is handed out
 * in commit order, gap-free), apply the conditional write, take the next seq, append the
 * change and the block revision, and keep the session's stored bytes (refusing a write
 * that would pass SESSION_MAX_BYTES). No row comes back when the session, the access,
 * the version or the budget does not match, and then nothing was written.
 */
@Injectable()
export class BlocksRepository {
  constructor(private readonly db: TransactionHost) {}

  /** One create: the statement of `createMany` with one write, so there is one statement to keep. */
  async create(write: BlockCreate, limits: BlockLimits): Promise<Written | null> {
    const [written] = await this.insertMany([write], limits, false);
    return written === KEY_RECORDED ? null : written;
  }

  /**
   * Many creates in one statement (group commit), each held to the rules of a create alone,
   * with one result per write in order (null: refused). Sessions are locked in id order (so
   * concurrent batches never deadlock) before anything is read of them; each session's
   * winners take its next seqs in the order the writes arrived, and its block count and
   * stored bytes grow by exactly theirs. A write is held to the block count and the budget
   * with everything its session's earlier writes in the batch add, refused or not, so a
   * batch may refuse what the write alone would not (never the other way): a write refused
   * by a batch must be decided again alone. A taken id, a drawn position that is taken, or
   * record of a write's key committed while the statement ran fails the whole statement
   * (nothing is written). A write whose key is recorded already (a retry; live or expired)
   * is left out (`KEY_RECORDED`), so that a retry does not cost its tick the shared statement:
   * it is decided alone.
   */
  createMany(writes: BlockCreate[], limits: BlockLimits): Promise<Array<Written | typeof KEY_RECORDED | null>> {
    return this.insertMany(writes, limits, true);
  }

  private async insertMany(
    writes: BlockCreate[],
    limits: BlockLimits,
    leaveOutRecorded: boolean,
  ): Promise<Array<Written | typeof KEY_RECORDED | null>> {
    const column = <T>(pick: (w: BlockCreate) => T) => writes.map(pick);
    const keyed = writes.some((w) => w.record);
    const recordColumns = keyed
      ? Prisma.sql`, ${column((w) => w.record?.scope ?? null)}::text[], ${column((w) => w.record?.key ?? null)}::text[],
          ${column((w) => w.record?.fingerprint ?? null)}::text[]`
      : Prisma.empty;
    const recordNames = Prisma.raw(keyed ? ', r_scope, r_key, r_fingerprint' : '');
    const records = keyed
      ? Prisma.sql`, idem AS (
          INSERT INTO idempotency_records (scope, key, fingerprint, status, body)
          SELECT q.r_scope, q.r_key, q.r_fingerprint, ${OUTCOME_STATUS}, json_build_object('block', ${blockJson('q')}, 'seq', q.seq)::text
          FROM q WHERE q.r_key IS NOT NULL
        )`
      : Prisma.empty;
    const leaveOut = keyed && leaveOutRecorded;
    const recorded = leaveOut
      ? Prisma.sql`, x AS MATERIALIZED (
          SELECT w.ord FROM w
          WHERE w.r_key IS NOT NULL AND EXISTS (SELECT 1 FROM idempotency_records r WHERE r.scope = w.r_scope AND r.key = w.r_key)
        )`
      : Prisma.empty;
    const rows = await this.db.client.$queryRaw<Array<Written & { ord: bigint }>>`
      WITH w AS (
        SELECT * FROM unnest(
          ${column((w) => w.access.key)}::text[], ${column((w) => w.access.userId)}::uuid[], ${column((w) => w.access.admin)}::boolean[],
          ${column((w) => w.block.id)}::uuid[], ${column((w) => w.block.type)}::varchar[],
          ${column((w) => JSON.stringify(w.block.content))}::json[], ${column((w) => w.block.position)}::text[],
          ${column((w) => w.block.version ?? 1)}::int[], ${column((w) => JSON.stringify(w.meta.actor))}::jsonb[],
          ${column((w) => w.meta.at)}::timestamptz[], ${column(() => this.db.step)}::uuid[],
          ${column((w) => w.meta.undoOf ?? null)}::bigint[]${recordColumns}
        ) WITH ORDINALITY AS w(key, user_id, admin, id, type, content, position, version, actor, at, step, undo_of${recordNames}, ord)
      )${recorded}, l AS MATERIALIZED (
        SELECT s.id, s.key, s.block_count, s.stored_bytes, s.visibility, s.owner_id, s.member_roles FROM sessions s
        WHERE s.key IN (SELECT key FROM w) ORDER BY s.id FOR UPDATE
      ), a AS (
        SELECT w.*, l.id AS session_id, l.block_count, l.stored_bytes, ${jsonBytes(Prisma.sql`w.content`)} AS bytes
        FROM w JOIN l ON l.key = w.key
        WHERE ${accessSql('write', { userId: Prisma.sql`w.user_id`, admin: Prisma.sql`w.admin` }, 'l')}
          ${leaveOut ? Prisma.sql`AND w.ord NOT IN (SELECT ord FROM x)` : Prisma.empty}
      ), f AS (
        SELECT a.*, row_number() OVER (PARTITION BY a.session_id ORDER BY a.ord) AS nth,
               sum(a.bytes) OVER (PARTITION BY a.session_id ORDER BY a.ord) - a.bytes AS earlier
        FROM a
      ), k AS (
        SELECT f.* FROM f WHERE f.block_count + f.nth <= ${limits.maxBlocks}
          AND ${fitsBudget(Prisma.sql`f.stored_bytes + f.earlier`, Prisma.sql`f.bytes`, limits.maxBytes)}
      ), g AS (
        SELECT session_id, count(*) AS n, sum(bytes) AS bytes, max(at) AS at FROM k GROUP BY session_id
      ), s AS (
        UPDATE sessions s SET seq = s.seq + g.n, block_count = s.block_count + g.n, stored_bytes = s.stored_bytes + g.bytes,
                              updated_at = g.at
        FROM g WHERE s.id = g.session_id
        RETURNING s.id, s.seq - g.n AS base, s.visibility, ${audienceSql('s')}
      ), c AS (
        SELECT k.*, s.base + row_number() OVER (PARTITION BY k.session_id ORDER BY k.ord) AS seq, s.visibility, s."ownerId",
               s."memberRoles"
        FROM k JOIN s ON s.id = k.session_id
      ), b AS (
        INSERT INTO blocks (id, session_id, type, content, position, version, created_at, updated_at, updated_by)
        SELECT c.id, c.session_id, c.type, c.content, c.position, c.version, c.at, c.at, c.actor FROM c
        RETURNING *
      ), q AS (
        SELECT b.*, c.seq, c.ord, c.visibility, c."ownerId", c."memberRoles", c.step, c.undo_of${recordNames}
        FROM b JOIN c ON c.id = b.id
      ), rev AS (
        INSERT INTO block_revisions (block_id, version, type, content, updated_at, updated_by)
        SELECT id, version, type, content, updated_at, updated_by FROM b
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at, step, undo_of)
        SELECT q.session_id, q.seq, 'block.created', ${logged(blockJson('q'))}, q.updated_by, q.updated_at, q.step, q.undo_of FROM q
      )${records}
      SELECT q.ord, ${blockJson('q')} AS block, q.seq, q.session_id AS "sessionId", q.visibility, q."ownerId", q."memberRoles" FROM q
      ${leaveOut ? Prisma.sql`UNION ALL SELECT x.ord, NULL, NULL, NULL, NULL, NULL, NULL FROM x` : Prisma.empty}`;
    const byOrd = new Map<number, Written | typeof KEY_RECORDED>(
      rows.map(({ ord, ...row }) => [Number(ord), row.block === null ? KEY_RECORDED : { ...row, seq: Number(row.seq) }]),
    );
    return writes.map((_, i) => byOrd.get(i + 1) ?? null);
  }

  /**
   * An update or a move: changes what `change` names and bumps the version, if it is still
   * `version` and the new content fits the session's budget. The block's row is locked
   * (after the session's) before its old size is read, so the delta is exact. It is the
   * statement of `updateMany` with one write: one statement to keep.
   */
  async update(write: BlockUpdate, limits: UpdateLimits): Promise<Written | null> {
    const [written] = await this.updateMany([write], limits);
    return written ?? null;
  }

  /**
   * Many updates and moves in one statement (group commit), each held to the same rules as
   * `update`, with one result per write in order (null: refused). Sessions and then blocks
   * are locked in id order, so concurrent batches never deadlock; each session's seq is
   * handed out to its winners in the order the writes arrived. No two writes may name the
   * same block. The budget is checked against everything the session's earlier writes in
   * the batch might add, so a refusal here may be lenient only in the other direction: a
   * write refused by a batch must be decided again alone.
   */
  async updateMany(writes: BlockUpdate[], limits: UpdateLimits): Promise<Array<Written | null>> {
    const column = <T>(pick: (w: BlockUpdate) => T) => writes.map(pick);
    // Only a batch with a keyed write carries records: the statement without them stays as it was.
    const keyed = writes.some((w) => w.record);
    const recordColumns = keyed
      ? Prisma.sql`, ${column((w) => w.record?.scope ?? null)}::text[], ${column((w) => w.record?.key ?? null)}::text[],
          ${column((w) => w.record?.fingerprint ?? null)}::text[], ${column((w) => w.record?.merged ?? null)}::boolean[]`
      : Prisma.empty;
    const recordNames = Prisma.raw(keyed ? ', r_scope, r_key, r_fingerprint, r_merged' : '');
    const records = keyed
      ? Prisma.sql`, idem AS (
          INSERT INTO idempotency_records (scope, key, fingerprint, status, body)
          SELECT w.r_scope, w.r_key, w.r_fingerprint, ${OUTCOME_STATUS},
                 json_build_object('block', ${blockJson('q')}, 'seq', q.seq, 'merged', w.r_merged)::text
          FROM q JOIN w ON w.ord = q.ord WHERE w.r_key IS NOT NULL
        )`
      : Prisma.empty;
    const rows = await this.db.client.$queryRaw<Array<Written & { ord: bigint }>>`
      WITH w AS (
        SELECT * FROM unnest(
          ${column((w) => w.access.key)}::text[], ${column((w) => w.access.userId)}::uuid[], ${column((w) => w.access.admin)}::boolean[],
          ${column((w) => w.id)}::uuid[], ${column((w) => w.version)}::int[], ${column((w) => w.change.type ?? null)}::varchar[],
          ${column((w) => (w.change.content === undefined ? null : JSON.stringify(w.change.content)))}::json[],
          ${column((w) => w.change.position ?? null)}::text[], ${column((w) => w.kind)}::varchar[],
          ${column((w) => JSON.stringify(w.meta.actor))}::jsonb[], ${column((w) => w.meta.at)}::timestamptz[],
          ${column(() => this.db.step)}::uuid[], ${column((w) => w.meta.undoOf ?? null)}::bigint[]${recordColumns}
        ) WITH ORDINALITY AS w(key, user_id, admin, id, version, type, content, position, kind, actor, at, step, undo_of${recordNames}, ord)
      ), s AS (
        SELECT s.id, s.key, s.stored_bytes, s.visibility, s.owner_id, s.member_roles FROM sessions s
        WHERE s.key IN (SELECT key FROM w) ORDER BY s.id FOR UPDATE
      ), ws AS (
        SELECT w.*, s.id AS session_id, s.stored_bytes FROM w JOIN s ON s.key = w.key
        WHERE ${accessSql('write', { userId: Prisma.sql`w.user_id`, admin: Prisma.sql`w.admin` })}
      ), old AS (
        SELECT blocks.id, ${jsonBytes(Prisma.sql`blocks.content`)} AS bytes, blocks.type, blocks.content, blocks.position,
               blocks.updated_at, blocks.updated_by
        FROM blocks JOIN ws ON blocks.id = ws.id AND blocks.session_id = ws.session_id
        ORDER BY blocks.id FOR UPDATE OF blocks
      ), d AS (
        SELECT ws.*, COALESCE(${jsonBytes(Prisma.sql`ws.content`)}, old.bytes) - old.bytes AS delta, old.type AS old_type,
               old.content AS old_content, old.position AS old_position, old.updated_at AS old_updated_at, old.updated_by AS old_updated_by
        FROM ws JOIN old ON old.id = ws.id
      ), f AS (
        SELECT d.*, sum(GREATEST(d.delta, 0)) OVER (PARTITION BY d.session_id ORDER BY d.ord) - GREATEST(d.delta, 0) AS earlier FROM d
      ), b AS (
        UPDATE blocks SET type = COALESCE(f.type, blocks.type), content = COALESCE(f.content, blocks.content),
                          position = COALESCE(f.position, blocks.position),
                          version = blocks.version + 1, updated_at = f.at, updated_by = f.actor
        FROM f WHERE blocks.id = f.id AND blocks.version = f.version
          AND ${fitsBudget(Prisma.sql`f.stored_bytes + f.earlier`, Prisma.sql`f.delta`, limits.maxBytes)}
        RETURNING blocks.*, f.delta, f.ord, f.kind, f.step, f.undo_of, f.old_type, f.old_content, f.old_position, f.old_updated_at,
                  f.old_updated_by
      ), g AS (
        SELECT session_id, count(*) AS n, sum(delta) AS delta, max(updated_at) AS at FROM b GROUP BY session_id
      ), n AS (
        UPDATE sessions SET seq = sessions.seq + g.n, stored_bytes = sessions.stored_bytes + g.delta, updated_at = g.at
        FROM g WHERE sessions.id = g.session_id
        RETURNING sessions.id, sessions.seq - g.n AS base
      ), q AS (
        SELECT b.*, n.base + row_number() OVER (PARTITION BY b.session_id ORDER BY b.ord) AS seq FROM b JOIN n ON n.id = b.session_id
      ), rev AS (
        INSERT INTO block_revisions (block_id, version, type, content, updated_at, updated_by)
        SELECT id, version, type, content, updated_at, updated_by FROM b
      ), pruned AS (
        DELETE FROM block_revisions r USING b
        WHERE b.version % ${HISTORY_PRUNE_EVERY} = 0 AND r.block_id = b.id AND r.version < b.version - ${limits.historyKeep}
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at, prior, step, undo_of)
        SELECT q.session_id, q.seq, q.kind, ${logged(blockJson('q'))}, q.updated_by, q.updated_at, ${PRIOR}, q.step, q.undo_of FROM q
      )${records}
      SELECT q.ord, ${blockJson('q')} AS block, q.seq, q.session_id AS "sessionId", s.visibility, ${audienceSql('s')}
      FROM q JOIN s ON s.id = q.session_id`;
    const byOrd = new Map(rows.map(({ ord, ...row }) => [Number(ord), { ...row, seq: Number(row.seq) }]));
    return writes.map((_, i) => byOrd.get(i + 1) ?? null);
  }

  async delete(access: WriteAccess, id: string, version: number, meta: WriteMeta, record?: WriteRecord): Promise<Written | null> {
    const actor = JSON.stringify(meta.actor);
    const rows = await this.db.client.$queryRaw<Written[]>`
      WITH s AS (
        SELECT s.id, s.visibility, ${audienceSql('s')} FROM sessions s WHERE s.key = ${access.key} AND ${writable(access)} FOR UPDATE
      ), b AS (
        DELETE FROM blocks USING s WHERE blocks.id = ${id}::uuid AND blocks.session_id = s.id AND blocks.version = ${version}
        RETURNING blocks.*
      ), n AS (
        UPDATE sessions SET seq = sessions.seq + 1, block_count = sessions.block_count - 1,
                            stored_bytes = sessions.stored_bytes - ${jsonBytes(Prisma.sql`b.content`)}, updated_at = ${meta.at}
        FROM b WHERE sessions.id = b.session_id
        RETURNING sessions.id, sessions.seq
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at, step, undo_of)
        SELECT n.id, n.seq, 'block.deleted', ${logged(blockJson('b'))}, ${actor}::jsonb, ${meta.at},
               ${this.db.step}::uuid, ${meta.undoOf ?? null}::bigint FROM n, b
      )${recordedWith(record, 'b', Prisma.sql`n, b`, 'n.seq')}
      SELECT ${blockJson('b')} AS block, n.seq, n.id AS "sessionId", s.visibility, s."ownerId", s."memberRoles" FROM n, b, s`;
    return this.first(rows);
  }

  /**
   * Why a write found nothing: reads the session and the block (`id` null: the session
   * only), and measures `content` (when given) as the write would have.
   */
  async target(key: string, id: string | null, content?: Record<string, unknown>): Promise<WriteTarget | null> {
    const proposed = content === undefined ? null : JSON.stringify(content);
    const rows = await this.db.client.$queryRaw<WriteTarget[]>`
      SELECT s.id AS "sessionId", s.owner_id AS "ownerId", s.visibility, s.member_roles AS "memberRoles", s.block_count AS "blockCount",
             s.stored_bytes AS "storedBytes", ${jsonBytes(Prisma.sql`${proposed}::json`)} AS "contentBytes",
             CASE WHEN b.id IS NULL THEN NULL ELSE ${blockJson('b')} END AS block,
             ${jsonBytes(Prisma.sql`b.content`)} AS "blockBytes"
      FROM sessions s LEFT JOIN blocks b ON b.session_id = s.id AND b.id = ${id}::uuid
      WHERE s.key = ${key}`;
    const row = rows[0];
    if (!row) return null;
    const count = (n: number | bigint | null) => (n === null ? null : Number(n));
    return { ...row, storedBytes: Number(row.storedBytes), contentBytes: count(row.contentBytes), blockBytes: count(row.blockBytes) };
  }

  /**
   * The positions a new position must fall between: around `anchorId` (after it, or
   * before it) or after the last block. `undefined`: the anchor is not in this session.
   */
  async neighbours(
    key: string,
    anchor: { afterId?: string; beforeId?: string },
    excludeId: string | null,
  ): Promise<{ before: string | null; after: string | null } | undefined> {
    if (anchor.afterId) {
      const rows = await this.db.client.$queryRaw<Array<{ before: string; after: string | null }>>`
        SELECT a.position AS before,
               (SELECT min(n.position) FROM blocks n WHERE n.session_id = a.session_id AND n.position > a.position
                  AND n.id IS DISTINCT FROM ${excludeId}::uuid) AS after
        FROM blocks a JOIN sessions s ON s.id = a.session_id WHERE s.key = ${key} AND a.id = ${anchor.afterId}::uuid`;
      return rows[0];
    }
    if (anchor.beforeId) {
      const rows = await this.db.client.$queryRaw<Array<{ before: string | null; after: string }>>`
        SELECT (SELECT max(n.position) FROM blocks n WHERE n.session_id = a.session_id AND n.position < a.position
                  AND n.id IS DISTINCT FROM ${excludeId}::uuid) AS before,
               a.position AS after
        FROM blocks a JOIN sessions s ON s.id = a.session_id WHERE s.key = ${key} AND a.id = ${anchor.beforeId}::uuid`;
      return rows[0];
    }
    const rows = await this.db.client.$queryRaw<Array<{ before: string | null }>>`
      SELECT max(b.position) AS before FROM blocks b JOIN sessions s ON s.id = b.session_id
      WHERE s.key = ${key} AND b.id IS DISTINCT FROM ${excludeId}::uuid`;
    return { before: rows[0]?.before ?? null, after: null };
  }

  revision(blockId: string, version: number): Promise<BlockRevision | null> {
    return this.db.client.blockRevision.findUnique({ where: { blockId_version: { blockId, version } } });
  }

  /** Revisions with a version in [from, below), newest first. */
  history(blockId: string, from: number, below: number, limit: number): Promise<BlockRevision[]> {
    return this.db.client.blockRevision.findMany({
      where: { blockId, version: { gte: from, lt: below } },
      orderBy: { version: 'desc' },
      take: limit,
    });
  }

  private first(rows: Written[]): Written | null {
    const row = rows[0];
    return row ? { ...row, seq: Number(row.seq) } : null;
  }
}
