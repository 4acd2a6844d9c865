import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { CacheService, type CacheCodec } from '../cache/cache.service.js';
import { inTurns } from '../common/turns.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { checkAccess, roleIn, type Role } from './session-access.js';
import { DocumentsRepository, type StoredHead } from './documents.repository.js';
import type { BlockView } from '../contract/block.js';
import type { SessionView } from '../contract/session.js';
import { sessionTag } from './session-cache.js';

/** A session's id and what access and version checks read of it. */
export type SessionRef = StoredHead;

/**
 * A session with its blocks as JSON text: `session` is the session's object; the blocks are
 * either each block's object (`items`, as read from the database) or the whole array (`array`,
 * as kept by the cache, which never holds more than CACHE_MAX_VALUE_BYTES).
 */
export type DocumentText = StoredHead & { session: string } & ({ items: string[]; array?: never } | { array: string; items?: never });

export interface DocumentView extends SessionView {
  blocks: BlockView[];
}

/** The JSON array of the document's blocks, as pieces of text to send one after the other. */
function blocksArray(document: DocumentText): string[] {
  if (document.items === undefined) return [document.array];
  const pieces = ['['];
  for (const [i, item] of document.items.entries()) {
    if (i > 0) pieces.push(', ');
    pieces.push(item);
  }
  pieces.push(']');
  return pieces;
}

/**
 * The body of GET /api/sessions/:key, the session's fields, the caller's `role` and `blocks`
 * as one JSON object, in pieces. The role is added here, at the reply, so the text the
 * cache keeps is the same for every caller.
 */
export const documentBody = (document: DocumentText, role: Role): string[] => [
  document.session.slice(0, -1),
  `, "role" : "${role}"`,
  ', "blocks" : ',
  ...blocksArray(document),
  '}',
];

/** The body of GET /api/sessions/:key/blocks, in pieces. */
export const blocksBody = (document: DocumentText): string[] => ['{"items" : ', ...blocksArray(document), ', "nextCursor" : null}'];

/**
 * A document in the cache: one small line of JSON (id, head and where the session's text
 * ends), then the session's text and the blocks' array as PostgreSQL wrote them. A hit
 * parses the small line only; the texts are cut out of the entry, not parsed.
 */
const DOCUMENT_CODEC: CacheCodec<DocumentText> = {
  encode: (document) =>
    `${JSON.stringify({ id: document.id, head: document.head, sessionLength: document.session.length })}\n${document.session}${blocksArray(document).join('')}`,
  decode(text) {
    const end = text.indexOf('\n');
    const { id, head, sessionLength } = JSON.parse(text.slice(0, end)) as StoredHead & { sessionLength: number };
    const start = end + 1;
    return { id, head, session: text.slice(start, start + sessionLength), array: text.slice(start + sessionLength) };
  },
  length: ({ session, items, array }) => (items ?? [array]).reduce((chars, piece) => chars + piece.length + 2, session.length),
};

/**
 * Cached reads of sessions and their blocks. Entries carry the session's tag, which
 * every committed change of the session invalidates before the write is acknowledged.
 */
@Injectable()
export class DocumentReader {
  constructor(
    private readonly documents: DocumentsRepository,
    private readonly cache: CacheService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** The session whoever asks: for the server's own work (jobs), never for a caller. */
  find(key: string): Promise<SessionRef | null> {
    return this.cache.getOrSet({ type: 'session', key, tags: [sessionTag(key)] }, () => this.documents.head(key));
  }

  /** Inside a transaction: locks the session for a rewrite and reads it uncached. */
  async lockForRestore(key: string): Promise<SessionRef> {
    const ref = await this.documents.lockForRewrite(key);
    if (!ref) throw new AppError('SESSION_NOT_FOUND');
    return ref;
  }

  /** The session with its blocks in position order, as of one seq, as JSON text. */
  async document(principal: Principal, key: string): Promise<DocumentText> {
    return readable(await this.load(key), principal);
  }

  /** The document whoever asks, through the cache (which this fills): for the server's own work, never for a caller. */
  load(key: string): Promise<DocumentText | null> {
    return this.cache.getOrSet<DocumentText>(
      { type: 'blocks', key, tags: [sessionTag(key)] },
      async () => {
        const stored = await this.documents.document(key);
        return stored && { id: stored.id, head: stored.head, session: stored.session, items: stored.blocks };
      },
      DOCUMENT_CODEC,
    );
  }

  /**
   * Loads the document into the cache, unless it is too large to be kept there (its JSON is
   * longer than the bytes it counts toward its budget): then nothing is read. The seq loaded, or null.
   */
  async warm(key: string): Promise<number | null> {
    const bytes = await this.documents.storedBytes(key);
    if (bytes === null || bytes > this.config.CACHE_MAX_VALUE_BYTES) return null;
    return (await this.load(key))?.head.seq ?? null;
  }

  /**
   * The document as values, for work that needs its blocks as objects (exports). Read like
   * `document` (through the cache, sharing a load in flight), and parsed block by block, a
   * few milliseconds at a time, so even a session at its size budget never holds the event
   * loop for long; a cached array is at most CACHE_MAX_VALUE_BYTES, parsed at once.
   */
  async values(principal: Principal, key: string): Promise<{ id: string; document: DocumentView }> {
    const text = await this.document(principal, key);
    let blocks: BlockView[];
    if (text.items === undefined) blocks = JSON.parse(text.array) as BlockView[];
    else {
      const items = text.items;
      blocks = new Array<BlockView>(items.length);
      await inTurns(items, (item, i) => {
        blocks[i] = JSON.parse(item) as BlockView;
      });
    }
    return { id: text.id, document: { ...(JSON.parse(text.session) as SessionView), role: roleIn(text.head, principal)!, blocks } };
  }
}

/** The session if the caller may read it; otherwise 404, as if unknown. */
function readable<T extends StoredHead>(ref: T | null, principal: Principal): T {
  checkAccess(ref?.head ?? null, principal, 'read');
  return ref!;
}
