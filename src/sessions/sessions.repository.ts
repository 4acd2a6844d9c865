import { Injectable } from '@nestjs/common';
import { olderThan, type ListCursor } from '../common/pagination.js';
import { foreignKeyViolation } from '../database/sql-errors.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { Prisma, type Session } from '../generated/prisma/client.js';
import type { Visibility } from '../generated/prisma/enums.js';
import type { Actor } from '../auth/principal.js';
import { sessionJson } from './session.view.js';

/** Every column, aliased to the model's field names, for raw statements that RETURNING a session. */
const COLUMNS = Prisma.raw(
  `id, key, key_length AS "keyLength", type_slug AS "typeSlug", title, theme_id AS "themeId",
   owner_id AS "ownerId", visibility, version, seq, metadata, state,
   created_at AS "createdAt", updated_at AS "updatedAt"`,
);

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

export interface SessionSave {
  title?: string;
  state?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  themeId?: string | null;
  visibility?: Visibility;
  actor: Actor;
  at: Date;
}

@Injectable()
export class SessionsRepository {
  constructor(private readonly db: TransactionHost) {}

  /**
   * Inserts the session unless its key is taken; null means "taken, pick another". An owner
   * deleted while their request was in flight is a refused token, not a 500.
   */
  async insertIfKeyFree(s: NewSession): Promise<Session | null> {
    const metadata = JSON.stringify({ created: s.createdAt.toISOString(), lastModified: s.createdAt.toISOString() });
    const rows = await this.insertRows(s, metadata).catch((error: unknown) => {
      if (s.ownerId && foreignKeyViolation(error)?.includes('owner'))
        throw new AppError('INVALID_TOKEN', 'The account behind this token was deleted.');
      throw error;
    });
    return rows[0] ?? null;
  }

  private insertRows(s: NewSession, metadata: string): Promise<Session[]> {
    return this.db.client.$queryRaw<Session[]>`
      INSERT INTO sessions (id, key, key_length, type_slug, title, theme_id, owner_id, visibility, metadata, state, created_at, updated_at)
      VALUES (gen_random_uuid(), ${s.key}, ${s.key.length}, ${s.typeSlug}, ${s.title}, ${s.themeId}::uuid, ${s.ownerId}::uuid,
              ${s.visibility}::"Visibility", ${metadata}::jsonb, ${JSON.stringify(s.state)}::jsonb, ${s.createdAt}, ${s.createdAt})
      ON CONFLICT (key) DO NOTHING
      RETURNING ${COLUMNS}`;
  }

  findByKey(key: string): Promise<Session | null> {
    return this.db.client.session.findUnique({ where: { key } });
  }

  findById(id: string): Promise<Session | null> {
    return this.db.client.session.findUnique({ where: { id } });
  }

  /**
   * One conditional statement: applies the save only if the stored version is `version`,
   * takes the next seq and appends the `session.updated` change, or does nothing.
   */
  async saveIfVersion(id: string, version: number, save: SessionSave): Promise<Session | null> {
    const sets: Prisma.Sql[] = [
      Prisma.sql`version = version + 1`,
      Prisma.sql`seq = seq + 1`,
      Prisma.sql`updated_at = ${save.at}`,
      Prisma.sql`metadata = metadata || ${JSON.stringify({ ...save.metadata, lastModified: save.at.toISOString() })}::jsonb`,
    ];
    if (save.title !== undefined) sets.push(Prisma.sql`title = ${save.title}`);
    if (save.state !== undefined) sets.push(Prisma.sql`state = ${JSON.stringify(save.state)}::jsonb`);
    if (save.themeId !== undefined) sets.push(Prisma.sql`theme_id = ${save.themeId}::uuid`);
    if (save.visibility !== undefined) sets.push(Prisma.sql`visibility = ${save.visibility}::"Visibility"`);
    const rows = await this.db.client.$queryRaw<Session[]>`
      WITH u AS (
        UPDATE sessions SET ${Prisma.join(sets, ', ')}
        WHERE id = ${id}::uuid AND version = ${version}
        RETURNING *
      ), log AS (
        INSERT INTO changes (session_id, seq, kind, payload, actor, at)
        SELECT u.id, u.seq, 'session.updated', ${sessionJson('u')}, ${JSON.stringify(save.actor)}::jsonb, ${save.at} FROM u
      )
      SELECT ${COLUMNS} FROM u`;
    return rows[0] ?? null;
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

  /** Newest first; `ownerId` undefined lists every session (operators). */
  list(filter: { ownerId?: string; typeSlug?: string }, limit: number, after?: ListCursor): Promise<Session[]> {
    return this.db.client.session.findMany({
      where: {
        ownerId: filter.ownerId,
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
