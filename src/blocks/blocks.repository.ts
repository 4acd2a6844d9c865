import { Injectable } from '@nestjs/common';
import type { Actor } from '../auth/principal.js';
import { TransactionHost } from '../database/transaction-host.js';
import { Prisma, type BlockRevision } from '../generated/prisma/client.js';
import type { Visibility } from '../generated/prisma/enums.js';
import { fitsBudget, jsonBytes } from '../sessions/session-budget.js';
import { blockJson, type BlockRecord } from './block.view.js';

/** Who writes and where: the session key and what the writer may do there. */
export interface WriteAccess {
  key: string;
  userId: string | null;
  admin: boolean;
}

export interface WriteMeta {
  actor: Actor;
  at: Date;
}

export interface Written {
  block: BlockRecord;
  seq: number;
  sessionId: string;
  /** The session's visibility as this write's statement saw it: who may receive the change. */
  visibility: Visibility;
}

export interface NewBlock {
  id: string;
  type: string;
  content: Record<string, unknown>;
  position: string;
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
  blockCount: number;
  storedBytes: number;
  /** The bytes the proposed content would store (null when none was proposed). */
  contentBytes: number | null;
  block: BlockRecord | null;
  /** The bytes the block's stored content counts (null without a block). */
  blockBytes: number | null;
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

const writable = (a: WriteAccess) => Prisma.sql`(s.visibility = 'link' OR s.owner_id = ${a.userId}::uuid OR ${a.admin})`;

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

  async create(access: WriteAccess, block: NewBlock, limits: BlockLimits, meta: WriteMeta): Promise<Written | null> {
    const actor = JSON.stringify(meta.actor);
    const rows = await this.db.client.$queryRaw<Written[]>`
      WITH c AS (
        SELECT ${JSON.stringify(block.content)}::jsonb AS content
      ), s AS (
        UPDATE sessions s SET seq = s.seq + 1, block_count = s.block_count + 1,
                              stored_bytes = s.stored_bytes + ${jsonBytes(Prisma.sql`c.content`)}, updated_at = ${meta.at}
        FROM c
        WHERE s.key = ${access.key} AND ${writable(access)} AND s.block_count < ${limits.maxBlocks}
          AND ${fitsBudget(Prisma.sql`s.stored_bytes`, jsonBytes(Prisma.sql`c.content`), limits.maxBytes)}
        RETURNING s.id, s.seq, s.visibility
      ), b AS (
        INSERT INTO blocks (id, session_id, type, content, position, version, created_at, updated_at, updated_by)
        SELECT ${block.id}::uuid, s.id, ${block.type}, c.content, ${block.position}, 1, ${meta.at}, ${meta.at}, ${actor}::jsonb
        FROM s, c
        RETURNING *
      ), rev AS (
        INSERT INTO block_revisions (block_id, version, type, content, updated_at, updated_by)
        SELECT id, version, type, content, updated_at, updated_by FROM b
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at)
        SELECT s.id, s.seq, 'block.created', ${logged(blockJson('b'))}, ${actor}::jsonb, ${meta.at} FROM s, b
      )
      SELECT ${blockJson('b')} AS block, s.seq, s.id AS "sessionId", s.visibility FROM s, b`;
    return this.first(rows);
  }

  /**
   * An update or a move: changes what `change` names and bumps the version, if it is still
   * `version` and the new content fits the session's budget. The block's row is locked
   * (after the session's) before its old size is read, so the delta is exact.
   */
  async update(
    access: WriteAccess,
    id: string,
    version: number,
    change: BlockChange,
    kind: 'block.updated' | 'block.moved',
    limits: { historyKeep: number; maxBytes: number },
    meta: WriteMeta,
  ): Promise<Written | null> {
    const actor = JSON.stringify(meta.actor);
    const content = change.content === undefined ? null : JSON.stringify(change.content);
    const rows = await this.db.client.$queryRaw<Written[]>`
      WITH s AS (
        SELECT s.id, s.stored_bytes, s.visibility FROM sessions s WHERE s.key = ${access.key} AND ${writable(access)} FOR UPDATE
      ), old AS (
        SELECT blocks.id, ${jsonBytes(Prisma.sql`blocks.content`)} AS bytes
        FROM blocks, s WHERE blocks.id = ${id}::uuid AND blocks.session_id = s.id FOR UPDATE OF blocks
      ), d AS (
        SELECT old.id, COALESCE(${jsonBytes(Prisma.sql`${content}::jsonb`)}, old.bytes) - old.bytes AS delta FROM old
      ), b AS (
        UPDATE blocks SET type = COALESCE(${change.type ?? null}::varchar, blocks.type),
                          content = COALESCE(${content}::jsonb, blocks.content),
                          position = COALESCE(${change.position ?? null}::text, blocks.position),
                          version = blocks.version + 1, updated_at = ${meta.at}, updated_by = ${actor}::jsonb
        FROM s, d WHERE blocks.id = d.id AND blocks.version = ${version}
          AND ${fitsBudget(Prisma.sql`s.stored_bytes`, Prisma.sql`d.delta`, limits.maxBytes)}
        RETURNING blocks.*, d.delta
      ), n AS (
        UPDATE sessions SET seq = sessions.seq + 1, stored_bytes = sessions.stored_bytes + b.delta, updated_at = ${meta.at}
        FROM b WHERE sessions.id = b.session_id
        RETURNING sessions.id, sessions.seq
      ), rev AS (
        INSERT INTO block_revisions (block_id, version, type, content, updated_at, updated_by)
        SELECT id, version, type, content, updated_at, updated_by FROM b
      ), pruned AS (
        DELETE FROM block_revisions r USING b
        WHERE b.version % ${HISTORY_PRUNE_EVERY} = 0 AND r.block_id = b.id AND r.version < b.version - ${limits.historyKeep}
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at)
        SELECT n.id, n.seq, ${kind}, ${logged(blockJson('b'))}, ${actor}::jsonb, ${meta.at} FROM n, b
      )
      SELECT ${blockJson('b')} AS block, n.seq, n.id AS "sessionId", s.visibility FROM n, b, s`;
    return this.first(rows);
  }

  async delete(access: WriteAccess, id: string, version: number, meta: WriteMeta): Promise<Written | null> {
    const actor = JSON.stringify(meta.actor);
    const rows = await this.db.client.$queryRaw<Written[]>`
      WITH s AS (
        SELECT s.id, s.visibility FROM sessions s WHERE s.key = ${access.key} AND ${writable(access)} FOR UPDATE
      ), b AS (
        DELETE FROM blocks USING s WHERE blocks.id = ${id}::uuid AND blocks.session_id = s.id AND blocks.version = ${version}
        RETURNING blocks.*
      ), n AS (
        UPDATE sessions SET seq = sessions.seq + 1, block_count = sessions.block_count - 1,
                            stored_bytes = sessions.stored_bytes - ${jsonBytes(Prisma.sql`b.content`)}, updated_at = ${meta.at}
        FROM b WHERE sessions.id = b.session_id
        RETURNING sessions.id, sessions.seq
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at)
        SELECT n.id, n.seq, 'block.deleted', ${logged(blockJson('b'))}, ${actor}::jsonb, ${meta.at} FROM n, b
      )
      SELECT ${blockJson('b')} AS block, n.seq, n.id AS "sessionId", s.visibility FROM n, b, s`;
    return this.first(rows);
  }

  /**
   * Why a write found nothing: reads the session and the block (`id` null: the session
   * only), and measures `content` (when given) as the write would have.
   */
  async target(key: string, id: string | null, content?: Record<string, unknown>): Promise<WriteTarget | null> {
    const proposed = content === undefined ? null : JSON.stringify(content);
    const rows = await this.db.client.$queryRaw<WriteTarget[]>`
      SELECT s.id AS "sessionId", s.owner_id AS "ownerId", s.visibility, s.block_count AS "blockCount",
             s.stored_bytes AS "storedBytes", ${jsonBytes(Prisma.sql`${proposed}::jsonb`)} AS "contentBytes",
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
