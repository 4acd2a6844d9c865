import { Injectable } from '@nestjs/common';
import type { Principal } from '../auth/principal.js';
import { CacheService } from '../cache/cache.service.js';
import { sessionTag } from '../cache/cache.types.js';
import { AppError } from '../errors/app-error.js';
import { canRead } from '../sessions/session-access.js';
import { fromSessionJson, type SessionView } from '../sessions/session.view.js';
import { toBlockView, type BlockView } from './block.view.js';
import { DocumentsRepository, type StoredDocument } from './documents.repository.js';

export interface SessionRef {
  id: string;
  view: SessionView;
}

export interface DocumentView extends SessionView {
  blocks: BlockView[];
}

/**
 * Cached reads of sessions and their blocks. Entries carry the session's tag, which
 * every committed change of the session invalidates before the write is acknowledged.
 */
@Injectable()
export class DocumentReader {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly cache: CacheService,
  ) {}

  /** The session (no blocks) if the caller may read it, else 404 as if unknown. */
  async session(principal: Principal, key: string): Promise<SessionRef> {
    return readable(await this.find(key), principal);
  }

  /**
   * The session as the database holds it now, bypassing the cache, if the caller may read
   * it: for a decision that must not act on an entry filled before a concurrent commit.
   */
  async sessionNow(principal: Principal, key: string): Promise<SessionRef> {
    return readable(await this.stored(key), principal);
  }

  /** The session whoever asks: for the server's own work (jobs), never for a caller. */
  find(key: string): Promise<SessionRef | null> {
    return this.cache.getOrSet({ type: 'session', key, tags: [sessionTag(key)] }, () => this.stored(key));
  }

  private async stored(key: string): Promise<SessionRef | null> {
    const row = await this.documents.session(key);
    return row && { id: row.id, view: fromSessionJson(row.session) };
  }

  /** Inside a transaction: locks the session for a rewrite and reads it uncached. */
  async lockForRestore(key: string): Promise<DocumentView> {
    await this.documents.lockForRewrite(key);
    const row = await this.documents.document(key);
    if (!row) throw new AppError('SESSION_NOT_FOUND');
    return toDocumentView(row, key);
  }

  /** The session with its blocks in position order, as of one seq. */
  async document(principal: Principal, key: string): Promise<DocumentView> {
    const document = await this.load(key);
    if (!document || !canRead(document, principal)) throw new AppError('SESSION_NOT_FOUND');
    return document;
  }

  /** The document whoever asks, through the cache (which this fills): for the server's own work, never for a caller. */
  load(key: string): Promise<DocumentView | null> {
    return this.cache.getOrSet({ type: 'blocks', key, tags: [sessionTag(key)] }, async () => {
      const row = await this.documents.document(key);
      return row && toDocumentView(row, key);
    });
  }
}

/** The session if the caller may read it; otherwise 404, as if unknown. */
function readable(ref: SessionRef | null, principal: Principal): SessionRef {
  if (!ref || !canRead(ref.view, principal)) throw new AppError('SESSION_NOT_FOUND');
  return ref;
}

const toDocumentView = (row: StoredDocument, key: string): DocumentView => ({
  ...fromSessionJson(row.session),
  blocks: row.blocks.map((b) => toBlockView(b, key)),
});
