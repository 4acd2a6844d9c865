import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { DocumentReader, type SessionRef } from './document.reader.js';
import { DocumentsRepository } from './documents.repository.js';
import { checkAccess, type SessionAction } from './session-access.js';

/** Where routes, socket events and jobs ask the rule about a session they name by its key. */
@Injectable()
export class SessionAccess {
  constructor(
    private readonly reader: DocumentReader,
    private readonly documents: DocumentsRepository,
  ) {}

  /**
   * The session if the caller may do `action` in it, else the refusal (`checkAccess`).
   * `fresh` reads the database instead of the cache: for a decision that must not act on an
   * entry filled before a concurrent commit.
   */
  async require(principal: Principal, key: string, action: SessionAction, options: { fresh?: boolean } = {}): Promise<SessionRef> {
    const ref = options.fresh ? await this.documents.head(key) : await this.reader.find(key);
    checkAccess(ref?.head ?? null, principal, action);
    return ref!;
  }
}
