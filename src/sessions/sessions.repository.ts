import { Injectable } from '@nestjs/common';
import { olderThan, type ListCursor } from '../common/pagination.js';
import { foreignKeyViolation } from '../database/sql-errors.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { Prisma, type Session } from '../generated/prisma/client.js';
import type { Visibility } from '../generated/prisma/enums.js';
import { fitsBudget, jsonBytes, type SessionBudget } from './session-budget.js';
import type { Actor } from '../contract/actor.js';
import type { SessionChange } from '../contract/session.js';
import type { Principal } from '../common/principal.js';
import { accessSqlFor, type SqlAction } from './session-access.js';

/** Every column, aliased to the model's field names, for raw statements that RETURNING a session. */
const columns = (t: string) =>
  Prisma.raw(
    `${t}id, ${t}key, ${t}key_length AS "keyLength", ${t}type_slug AS "typeSlug", ${t}title, ${t}theme_id AS "themeId",
     ${t}owner_id AS "ownerId", ${t}visibility, ${t}version, ${t}seq, ${t}block_count AS "blockCount",
     ${t}stored_bytes AS "storedBytes", ${t}metadata, ${t}state, ${t}created_at AS "createdAt", ${t}updated_at AS "updatedAt",
     ${t}member_roles AS "memberRoles"`,
  );
const COLUMNS = columns('');
const SAVED_COLUMNS = columns('sessions.');

/**
 * `target` with `addition`'s keys merged in (jsonb's `||`, keeping order): a key `target` has
 * keeps its place and takes `addition`'s value, the others follow in `addition`'s order. The
 * object is written from the entries' own text, so no value is printed anew.
 */
const mergedJson = (target: Prisma.Sql, addition: Prisma.Sql) => Prisma.sql`(
  SELECT COALESCE('{' || string_agg(to_json(COALESCE(t.key, a.key))::text || ':' || COALESCE(a.value, t.value)::text, ','
                                    ORDER BY t.n IS NULL, COALESCE(t.n, a.n)) || '}', '{}')::json
  FROM json_each(${target}) WITH ORDINALITY t(key, value, n)
  FULL JOIN json_each(${addition}) WITH ORDINALITY a(key, value, n) ON a.key = t.key)`;

export interface NewSession {
  key: string;
  typeSlug: string;
  title: string;
  themeId: string | null;
  ownerId: string | null;
  visibility: Visibility;
  state: Record<string, unknown>;
  createdAt: Date;
}

/** What a refused save found: the version and sizes as the save measured them. */
export interface SaveMiss {
  version: number;
  storedBytes: number;
  delta: number;
  metadataBytes: number;
  /** Whether the caller's role, as the locked row says, allows the save at all. */
  allowed: boolean;
}

export type SaveOutcome = { saved: Session } | { saved: null; miss: SaveMiss | null };

/** What an insert did: the session, or none because its key was taken or it was too large (`storedBytes`). */
export interface InsertOutcome {
  session: Session | null;
  storedBytes: number;
}

export interface SessionSave {
  title?: string;
  state?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  themeId?: string | null;
  visibility?: Visibility;
  actor: Actor;
  at: Date;
  /** The seq of the change this save inverts (an undo or a redo). */
  undoOf?: number;
}

@Injectable()
export class SessionsRepository {
  constructor(private readonly db: TransactionHost) {}

  /**
   * Inserts the session unless its key is taken or it would pass `maxBytes`; no session
   * and `storedBytes` within the budget means "taken, pick another". An owner deleted while
   * their request was in flight is a refused token, not a 500.
   */
  async insertIfKeyFree(s: NewSession, maxBytes: number): Promise<InsertOutcome> {
    const [outcome] = await this.insertAllIfKeysFree([s], maxBytes).catch((error: unknown) => {
      if (s.ownerId && foreignKeyViolation(error)?.includes('owner'))
        throw new AppError('INVALID_TOKEN', 'The account behind this token was deleted.');
      throw error;
    });
    return outcome;
  }

  /**
   * `insertIfKeyFree` for many sessions in one statement (group commit), one outcome per
   * session in order. Their keys must differ. A deleted owner fails the whole statement.
   */
  async insertAllIfKeysFree(sessions: NewSession[], maxBytes: number): Promise<InsertOutcome[]> {
    const column = <T>(pick: (s: NewSession) => T) => sessions.map(pick);
    const metadata = (s: NewSession) => JSON.stringify({ created: s.createdAt.toISOString(), lastModified: s.createdAt.toISOString() });
    const rows = await this.db.client.$queryRaw<Array<Session & { newBytes: bigint; ord: bigint }>>`
      WITH v AS (
        SELECT * FROM unnest(
          ${column((s) => s.key)}::text[], ${column((s) => s.typeSlug)}::text[], ${column((s) => s.title)}::text[],
          ${column((s) => s.themeId)}::uuid[], ${column((s) => s.ownerId)}::uuid[], ${column((s) => s.visibility)}::text[],
          ${column(metadata)}::json[], ${column((s) => JSON.stringify(s.state))}::json[], ${column((s) => s.createdAt)}::timestamptz[]
        ) WITH ORDINALITY AS v(key, type_slug, title, theme_id, owner_id, visibility, metadata, state, at, ord)
      ), m AS (
        SELECT v.*, octet_length(v.title)::bigint + ${jsonBytes(Prisma.sql`v.state`)} + ${jsonBytes(Prisma.sql`v.metadata`)} AS bytes
        FROM v
      ), ins AS (
        INSERT INTO sessions (id, key, key_length, type_slug, title, theme_id, owner_id, visibility, metadata, state, stored_bytes,
                              created_at, updated_at)
        SELECT gen_random_uuid(), m.key, char_length(m.key), m.type_slug, m.title, m.theme_id, m.owner_id,
               m.visibility::"Visibility", m.metadata, m.state, m.bytes, m.at, m.at
        FROM m WHERE m.bytes <= ${maxBytes} ORDER BY m.key
        ON CONFLICT (key) DO NOTHING
        RETURNING ${COLUMNS}
      )
      SELECT ins.*, m.bytes AS "newBytes", m.ord FROM m LEFT JOIN ins ON ins.key = m.key ORDER BY m.ord`;
    return rows.map(({ newBytes, ord: _ord, ...row }) => ({ session: row.id ? row : null, storedBytes: Number(newBytes) }));
  }

  findByKey(key: string): Promise<Session | null> {
    return this.db.client.session.findUnique({ where: { key } });
  }

  findById(id: string): Promise<Session | null> {
    return this.db.client.session.findUnique({ where: { id } });
  }

  /**
   * One conditional statement: applies the save only if the stored version is `version`
   * and the result fits `budget` (merged metadata, and the session's stored bytes grown by
   * this save's delta), takes the next seq and appends the `session.updated` change (only
   * what the save wrote: `change`), or does nothing and says what it found.
   */
  async saveIfVersion(
    id: string,
    version: number,
    save: SessionSave,
    change: SessionChange,
    budget: SessionBudget,
    access: { caller: Principal; action: SqlAction },
  ): Promise<SaveOutcome> {
    const metadata = JSON.stringify({ ...save.metadata, lastModified: save.at.toISOString() });
    const title = save.title === undefined ? Prisma.sql`s.title` : Prisma.sql`${save.title}::varchar`;
    const state = save.state === undefined ? Prisma.sql`s.state` : Prisma.sql`${JSON.stringify(save.state)}::json`;
    const sets: Prisma.Sql[] = [
      Prisma.sql`version = sessions.version + 1`,
      Prisma.sql`seq = sessions.seq + 1`,
      Prisma.sql`updated_at = ${save.at}`,
      Prisma.sql`metadata = c.metadata`,
      Prisma.sql`stored_bytes = sessions.stored_bytes + c.delta`,
    ];
    if (save.title !== undefined) sets.push(Prisma.sql`title = c.title`);
    if (save.state !== undefined) sets.push(Prisma.sql`state = c.state`);
    if (save.themeId !== undefined) sets.push(Prisma.sql`theme_id = ${save.themeId}::uuid`);
    if (save.visibility !== undefined) sets.push(Prisma.sql`visibility = ${save.visibility}::"Visibility"`);
    const payload = JSON.stringify(change);
    // What the save overwrites, for time travel and undo: the small fields always, the state when it is replaced.
    const prior = Prisma.sql`json_build_object('title', s.title, ${save.state === undefined ? Prisma.empty : Prisma.sql`'state', s.state,`}
      'metadata', s.metadata, 'visibility', s.visibility, 'themeId', s.theme_id)`;
    const rows = await this.db.client.$queryRaw<Array<Session & { miss: SaveMiss }>>`
      WITH s AS (
        SELECT s.id, s.version, s.stored_bytes, s.title, s.state, s.metadata, s.visibility, s.theme_id,
               ${accessSqlFor(access.action, access.caller)} AS allowed
        FROM sessions s WHERE s.id = ${id}::uuid FOR UPDATE
      ), n AS (
        SELECT s.id, ${title} AS title, ${state} AS state, ${mergedJson(Prisma.sql`s.metadata`, Prisma.sql`${metadata}::json`)} AS metadata FROM s
      ), c AS (
        SELECT n.id, n.title, n.state, n.metadata, ${jsonBytes(Prisma.sql`n.metadata`)} AS metadata_bytes,
               (octet_length(n.title) - octet_length(s.title))
                 + (${jsonBytes(Prisma.sql`n.state`)} - ${jsonBytes(Prisma.sql`s.state`)})
                 + (${jsonBytes(Prisma.sql`n.metadata`)} - ${jsonBytes(Prisma.sql`s.metadata`)}) AS delta
        FROM n JOIN s ON s.id = n.id
      ), u AS (
        UPDATE sessions SET ${Prisma.join(sets, ', ')}
        FROM s, c
        WHERE sessions.id = s.id AND c.id = s.id AND s.allowed AND s.version = ${version}
          AND (c.metadata_bytes <= ${budget.maxMetadataBytes} OR c.metadata_bytes <= ${jsonBytes(Prisma.sql`s.metadata`)})
          AND ${fitsBudget(Prisma.sql`s.stored_bytes`, Prisma.sql`c.delta`, budget.maxBytes)}
        RETURNING ${SAVED_COLUMNS}
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at, prior, step, undo_of)
        SELECT u.id, u.seq, 'session.updated', ${payload}::json, octet_length(${payload}::json::text),
               ${JSON.stringify(save.actor)}::jsonb, ${save.at}, ${prior}, ${this.db.step}::uuid, ${save.undoOf ?? null}::bigint
        FROM u, s
      )
      SELECT u.*, json_build_object('version', s.version, 'storedBytes', s.stored_bytes, 'delta', c.delta,
                                    'metadataBytes', c.metadata_bytes, 'allowed', s.allowed) AS miss
      FROM s JOIN c ON c.id = s.id LEFT JOIN u ON true`;
    const row = rows[0];
    if (!row) return { saved: null, miss: null };
    const { miss, ...saved } = row;
    return saved.id ? { saved: saved } : { saved: null, miss };
  }

  async delete(id: string): Promise<boolean> {
    const { count } = await this.db.client.session.deleteMany({ where: { id } });
    return count > 0;
  }

  /**
   * Deletes up to `limit` ownerless sessions nobody modified since `cutoff` and returns their
   * keys. Rows another sweep holds are skipped; a session written meanwhile is re-checked under
   * its lock and kept.
   */
  async deleteAbandoned(cutoff: Date, limit: number): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<Array<{ key: string }>>`
      DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions
        WHERE owner_id IS NULL AND updated_at < ${cutoff}
        ORDER BY updated_at
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING key`;
    return rows.map((row) => row.key);
  }

  /** Newest first; `ownerId` undefined lists every session (operators); `memberId`: the sessions that user is a member of. */
  list(filter: { ownerId?: string; memberId?: string; typeSlug?: string }, limit: number, after?: ListCursor): Promise<Session[]> {
    return this.db.client.session.findMany({
      where: {
        ownerId: filter.ownerId,
        ...(filter.memberId === undefined ? {} : { members: { some: { userId: filter.memberId } } }),
        typeSlug: filter.typeSlug,
        ...olderThan(after),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
  }

  async countByKeyLength(): Promise<Map<number, number>> {
    const groups = await this.db.client.session.groupBy({ by: ['keyLength'], _count: { _all: true } });
    return new Map(groups.map((g) => [g.keyLength, g._count._all]));
  }

  async countAll(): Promise<{ total: number; anonymous: number }> {
    const [total, anonymous] = await Promise.all([
      this.db.client.session.count(),
      this.db.client.session.count({ where: { ownerId: null } }),
    ]);
    return { total, anonymous };
  }
}
