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
import { accessSql, type SqlAction } from './session-access.js';

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
  /** A create with an Idempotency-Key: the binding its statement inserts with the session. */
  claim?: KeyClaim;
}

/** An Idempotency-Key bound to the session a create makes: who asked (scope), the key, the request's hash. */
export interface KeyClaim {
  scope: string;
  key: string;
  requestHash: string;
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
  /** A keyed create whose Idempotency-Key was bound already (live or expired): nothing was inserted for it. */
  bound?: boolean;
}

/** One save of `saveAllIfVersions`: the session, the version it is based on, what it writes and for whom. */
export interface PendingSave {
  id: string;
  version: number;
  save: SessionSave;
  change: SessionChange;
  access: { caller: Principal; action: SqlAction };
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
   * A session with a `claim` binds its Idempotency-Key in the same statement, if it is
   * inserted. One whose key is bound already (live or expired) is not inserted (`bound`),
   * so a retry does not cost its tick the shared statement; a binding committed while the
   * statement ran fails the whole statement on the binding's primary key, and nothing is written.
   */
  async insertAllIfKeysFree(sessions: NewSession[], maxBytes: number): Promise<InsertOutcome[]> {
    const column = <T>(pick: (s: NewSession) => T) => sessions.map(pick);
    const metadata = (s: NewSession) => JSON.stringify({ created: s.createdAt.toISOString(), lastModified: s.createdAt.toISOString() });
    // Only a statement with a keyed create carries bindings: the one without them stays as it was.
    const keyed = sessions.some((s) => s.claim);
    const claimColumns = keyed
      ? Prisma.sql`, ${column((s) => s.claim?.scope ?? null)}::text[], ${column((s) => s.claim?.key ?? null)}::text[],
          ${column((s) => s.claim?.requestHash ?? null)}::text[]`
      : Prisma.empty;
    const claimNames = Prisma.raw(keyed ? ', c_scope, c_key, c_hash' : '');
    const claims = keyed
      ? Prisma.sql`, claimed AS (
          INSERT INTO idempotency_keys (scope, key, request_hash, session_id)
          SELECT m.c_scope, m.c_key, m.c_hash, ins.id FROM ins JOIN m ON m.key = ins.key WHERE m.c_key IS NOT NULL
        )`
      : Prisma.empty;
    const bound = keyed
      ? Prisma.sql`(v.c_key IS NOT NULL AND EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.scope = v.c_scope AND k.key = v.c_key))`
      : Prisma.sql`false`;
    const rows = await this.db.client.$queryRaw<Array<Session & { newBytes: bigint; bound: boolean; ord: bigint }>>`
      WITH v AS (
        SELECT * FROM unnest(
          ${column((s) => s.key)}::text[], ${column((s) => s.typeSlug)}::text[], ${column((s) => s.title)}::text[],
          ${column((s) => s.themeId)}::uuid[], ${column((s) => s.ownerId)}::uuid[], ${column((s) => s.visibility)}::text[],
          ${column(metadata)}::json[], ${column((s) => JSON.stringify(s.state))}::json[], ${column((s) => s.createdAt)}::timestamptz[]${claimColumns}
        ) WITH ORDINALITY AS v(key, type_slug, title, theme_id, owner_id, visibility, metadata, state, at${claimNames}, ord)
      ), m AS (
        SELECT v.*, octet_length(v.title)::bigint + ${jsonBytes(Prisma.sql`v.state`)} + ${jsonBytes(Prisma.sql`v.metadata`)} AS bytes,
               ${bound} AS bound
        FROM v
      ), ins AS (
        INSERT INTO sessions (id, key, key_length, type_slug, title, theme_id, owner_id, visibility, metadata, state, stored_bytes,
                              created_at, updated_at)
        SELECT gen_random_uuid(), m.key, char_length(m.key), m.type_slug, m.title, m.theme_id, m.owner_id,
               m.visibility::"Visibility", m.metadata, m.state, m.bytes, m.at, m.at
        FROM m WHERE m.bytes <= ${maxBytes} AND NOT m.bound ORDER BY m.key
        ON CONFLICT (key) DO NOTHING
        RETURNING ${COLUMNS}
      )${claims}
      SELECT ins.*, m.bytes AS "newBytes", m.bound, m.ord FROM m LEFT JOIN ins ON ins.key = m.key ORDER BY m.ord`;
    return rows.map(({ newBytes, bound, ord: _ord, ...row }) => ({
      session: row.id ? row : null,
      storedBytes: Number(newBytes),
      ...(bound ? { bound } : {}),
    }));
  }

  findByKey(key: string): Promise<Session | null> {
    return this.db.client.session.findUnique({ where: { key } });
  }

  findById(id: string): Promise<Session | null> {
    return this.db.client.session.findUnique({ where: { id } });
  }

  /**
   * Saves in one conditional statement (one save alone, or many: group commit): each applies
   * only if its session's stored version is its `version`, the caller may (its `access`, as
   * the locked row says) and the result fits `budget` (merged metadata, and the session's
   * stored bytes grown by the save's delta); it takes the session's next seq and appends the
   * `session.updated` change (only what the save wrote: `change`). A refused save does nothing
   * and says what it found. One outcome per save, in order. No two saves may name the same
   * session: each session's row is locked (in id order, so concurrent statements never
   * deadlock) and takes one seq.
   */
  async saveAllIfVersions(saves: PendingSave[], budget: SessionBudget): Promise<SaveOutcome[]> {
    const column = <T>(pick: (s: PendingSave) => T) => saves.map(pick);
    const given = <T>(value: T | undefined) => value !== undefined;
    const metadata = (s: PendingSave) => JSON.stringify({ ...s.save.metadata, lastModified: s.save.at.toISOString() });
    const callerOf = (s: PendingSave) => s.access.caller;
    const allowed = (action: SqlAction) => accessSql(action, { userId: Prisma.sql`w.user_id`, admin: Prisma.sql`w.admin` });
    // What the save overwrites, for time travel and undo: the small fields always, the state when it is replaced.
    const prior = (withState: boolean) => Prisma.sql`json_build_object('title', c.old_title,
      ${withState ? Prisma.sql`'state', c.old_state,` : Prisma.empty} 'metadata', c.old_metadata, 'visibility', c.old_visibility,
      'themeId', c.old_theme_id)`;
    const rows = await this.db.client.$queryRaw<Array<Session & { miss: SaveMiss | null; ord: bigint }>>`
      WITH w AS (
        SELECT * FROM unnest(
          ${column((s) => s.id)}::uuid[], ${column((s) => s.version)}::int[],
          ${column((s) => given(s.save.title))}::boolean[], ${column((s) => s.save.title ?? null)}::varchar[],
          ${column((s) => given(s.save.state))}::boolean[],
          ${column((s) => (s.save.state === undefined ? null : JSON.stringify(s.save.state)))}::json[],
          ${column(metadata)}::json[], ${column((s) => given(s.save.themeId))}::boolean[], ${column((s) => s.save.themeId ?? null)}::uuid[],
          ${column((s) => s.save.visibility ?? null)}::text[], ${column((s) => JSON.stringify(s.change))}::json[],
          ${column((s) => JSON.stringify(s.save.actor))}::jsonb[], ${column((s) => s.save.at)}::timestamptz[],
          ${column((s) => s.save.undoOf ?? null)}::bigint[],
          ${column((s) => {
            const c = callerOf(s);
            return c.kind === 'user' ? c.userId : null;
          })}::uuid[],
          ${column((s) => callerOf(s).kind === 'admin')}::boolean[], ${column((s) => s.access.action)}::text[]
        ) WITH ORDINALITY AS w(id, version, has_title, title, has_state, state, metadata, has_theme, theme_id, visibility, payload,
                               actor, at, undo_of, user_id, admin, action, ord)
      ), s AS (
        SELECT s.id, s.version, s.stored_bytes, s.title, s.state, s.metadata, s.visibility, s.theme_id, s.owner_id, s.member_roles
        FROM sessions s WHERE s.id IN (SELECT id FROM w) ORDER BY s.id FOR UPDATE
      ), n AS (
        SELECT w.*, s.version AS old_version, s.stored_bytes, s.title AS old_title, s.state AS old_state, s.metadata AS old_metadata,
               s.visibility AS old_visibility, s.theme_id AS old_theme_id,
               CASE w.action WHEN 'own' THEN ${allowed('own')} WHEN 'read' THEN ${allowed('read')} ELSE ${allowed('write')} END AS allowed,
               CASE WHEN w.has_title THEN w.title ELSE s.title END AS new_title,
               CASE WHEN w.has_state THEN w.state ELSE s.state END AS new_state,
               ${mergedJson(Prisma.sql`s.metadata`, Prisma.sql`w.metadata`)} AS new_metadata
        FROM w JOIN s ON s.id = w.id
      ), c AS (
        SELECT n.*, ${jsonBytes(Prisma.sql`n.new_metadata`)} AS metadata_bytes,
               (octet_length(n.new_title) - octet_length(n.old_title))
                 + (${jsonBytes(Prisma.sql`n.new_state`)} - ${jsonBytes(Prisma.sql`n.old_state`)})
                 + (${jsonBytes(Prisma.sql`n.new_metadata`)} - ${jsonBytes(Prisma.sql`n.old_metadata`)}) AS delta
        FROM n
      ), u AS (
        UPDATE sessions SET version = sessions.version + 1, seq = sessions.seq + 1, updated_at = c.at, metadata = c.new_metadata,
                            stored_bytes = sessions.stored_bytes + c.delta,
                            -- A field the save leaves is not rewritten (a large state keeps its stored value as it is).
                            title = CASE WHEN c.has_title THEN c.title ELSE sessions.title END,
                            state = CASE WHEN c.has_state THEN c.state ELSE sessions.state END,
                            theme_id = CASE WHEN c.has_theme THEN c.theme_id ELSE sessions.theme_id END,
                            visibility = COALESCE(c.visibility::"Visibility", sessions.visibility)
        FROM c
        WHERE sessions.id = c.id AND c.allowed AND c.old_version = c.version
          AND (c.metadata_bytes <= ${budget.maxMetadataBytes} OR c.metadata_bytes <= ${jsonBytes(Prisma.sql`c.old_metadata`)})
          AND ${fitsBudget(Prisma.sql`c.stored_bytes`, Prisma.sql`c.delta`, budget.maxBytes)}
        RETURNING ${SAVED_COLUMNS}
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, bytes, actor, at, prior, step, undo_of)
        SELECT u.id, u.seq, 'session.updated', c.payload, octet_length(c.payload::text), c.actor, c.at,
               CASE WHEN c.has_state THEN ${prior(true)} ELSE ${prior(false)} END, ${this.db.step}::uuid, c.undo_of
        FROM u JOIN c ON c.id = u.id
      )
      SELECT u.*, c.ord, json_build_object('version', c.old_version, 'storedBytes', c.stored_bytes, 'delta', c.delta,
                                           'metadataBytes', c.metadata_bytes, 'allowed', c.allowed) AS miss
      FROM c LEFT JOIN u ON u.id = c.id`;
    const byOrd = new Map(rows.map(({ ord, ...row }) => [Number(ord), row]));
    return saves.map((_, i) => {
      const row = byOrd.get(i + 1);
      if (!row) return { saved: null, miss: null };
      const { miss, ...saved } = row;
      return saved.id ? { saved } : { saved: null, miss };
    });
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
