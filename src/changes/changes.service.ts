import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { toBlockView, type BlockRecord } from '../sessions/block.view.js';
import { AppError } from '../errors/app-error.js';
import type { Change } from '../generated/prisma/client.js';
import { toSessionChange } from '../sessions/session.view.js';
import { ChangesRepository } from './changes.repository.js';
import type { Actor } from '../contract/actor.js';
import type { ChangeEvent, ChangeKind, MemberChange } from '../contract/change.js';
import { SessionAccess } from '../sessions/session-access.service.js';

/**
 * A page of the change log. It ends at `limit` items or at CHANGES_MAX_PAGE_BYTES of
 * payloads (at least one item always): when its last item's seq is below `seq`, there is
 * more, and the client asks again from that last seq.
 */
export interface ChangesPage {
  items: ChangeEvent[];
  /** The session's seq. */
  seq: number;
}

@Injectable()
export class ChangesService {
  constructor(
    private readonly changes: ChangesRepository,
    private readonly access: SessionAccess,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** The changes after `since`; 410 when some of them are no longer kept (the client reloads instead). */
  async since(session: PageOf, since: number, limit: number): Promise<ChangesPage> {
    if (caughtUp(session, since)) return { items: [], seq: session.seq };
    const rows = await this.changes.listAfter(session.id, since, limit, this.config.CHANGES_MAX_PAGE_BYTES);
    if (rows.length === 0 || Number(rows[0].seq) !== since + 1) throw expired(since);
    const items = rows.map((row) => toChangeEvent(row, session.key));
    return { items, seq: Math.max(session.seq, items[items.length - 1].seq) };
  }

  /** The changes one step wrote (a batch, a restore, an undo), as change events. */
  async ofStep(session: { id: string; key: string }, step: string): Promise<ChangeEvent[]> {
    return (await this.changes.ofStep(session.id, step)).map((row) => toChangeEvent(row, session.key));
  }

  /**
   * For a live feed: up to `limit` changes after `since` of the session with this id, read
   * first, then the caller's access checked afresh against the database, so that nothing
   * committed after a revocation is returned (SESSION_NOT_FOUND once they may not read it,
   * or the key names another session). 410 when some of them are no longer kept.
   */
  async follow(principal: Principal, key: string, sessionId: string, since: number, limit: number): Promise<ChangesPage> {
    for (let attempt = 0; ; attempt++) {
      const rows = await this.changes.listAfter(sessionId, since, limit, this.config.CHANGES_MAX_PAGE_BYTES);
      const { id, head } = await this.access.require(principal, key, 'read', { fresh: true });
      if (id !== sessionId) throw new AppError('SESSION_NOT_FOUND');
      if (rows.length > 0 && Number(rows[0].seq) !== since + 1) throw expired(since);
      if (rows.length === 0 && caughtUp({ id, key, seq: head.seq }, since)) return { items: [], seq: head.seq };
      // None read, yet the session is further on: committed between the read and the check, or pruned.
      if (rows.length === 0 && attempt > 0) throw expired(since);
      if (rows.length === 0) continue;
      const items = rows.map((row) => toChangeEvent(row, key));
      return { items, seq: Math.max(head.seq, items[items.length - 1].seq) };
    }
  }

  /**
   * For a job that follows a session's log on its own (webhooks): up to `limit` changes after
   * `since`, or, when the log no longer reaches back that far, the first seq it still holds.
   */
  async logAfter(sessionId: string, key: string, since: number, limit: number): Promise<{ items: ChangeEvent[]; keptFrom?: number }> {
    const rows = await this.changes.listAfter(sessionId, since, limit, this.config.CHANGES_MAX_PAGE_BYTES);
    if (rows.length > 0 && Number(rows[0].seq) !== since + 1) return { items: [], keptFrom: Number(rows[0].seq) };
    return { items: rows.map((row) => toChangeEvent(row, key)) };
  }

  /** The body of GET .../changes for a caller who may read the session, a ChangesPage as JSON text. */
  async pageFor(principal: Principal, key: string, since: number, limit: number): Promise<string> {
    const { id, head } = await this.access.require(principal, key, 'read');
    return this.sinceText({ id, key, seq: head.seq }, since, limit);
  }

  /** The same page as the JSON text of a ChangesPage, written by PostgreSQL: for a reply, which sends it as it is. */
  async sinceText(session: PageOf, since: number, limit: number): Promise<string> {
    if (caughtUp(session, since)) return JSON.stringify({ items: [], seq: session.seq });
    const page = await this.changes.pageText(session, since, limit, this.config.CHANGES_MAX_PAGE_BYTES);
    if (page.first !== since + 1 || page.last === null) throw expired(since);
    return `{"items" : ${page.items}, "seq" : ${Math.max(session.seq, page.last)}}`;
  }
}

interface PageOf {
  id: string;
  key: string;
  seq: number;
}

/** True when there is nothing after `since`; 410 when `since` is past the session's seq. */
function caughtUp(session: PageOf, since: number): boolean {
  if (since > session.seq) {
    throw new AppError('CHANGES_EXPIRED', `seq ${since} is ahead of this session (at ${session.seq}); reload the session.`);
  }
  return since === session.seq;
}

const expired = (since: number) => new AppError('CHANGES_EXPIRED', `Changes after seq ${since} are no longer kept; reload the session.`);

function toChangeEvent(row: Pick<Change, 'seq' | 'kind' | 'payload' | 'actor' | 'at' | 'undoOf'>, sessionKey: string): ChangeEvent {
  const kind = row.kind as ChangeKind;
  const base = {
    seq: Number(row.seq),
    kind,
    actor: row.actor as unknown as Actor,
    at: row.at.toISOString(),
    ...(row.undoOf === null || row.undoOf === undefined ? {} : { undoOf: Number(row.undoOf) }),
  };
  switch (kind) {
    case 'session.updated':
      return { ...base, session: toSessionChange(row.payload as Record<string, unknown>) };
    case 'member.updated':
    case 'member.removed': {
      const { userId, role } = row.payload as unknown as MemberChange;
      return { ...base, member: { userId, role } };
    }
    case 'block.created':
    case 'block.updated':
    case 'block.moved':
    case 'block.deleted':
      return { ...base, block: toBlockView(row.payload as unknown as BlockRecord, sessionKey) };
  }
}
