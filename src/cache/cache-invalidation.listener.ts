import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { CHANGE_COMMITTED, type CommittedChange } from '../changes/change.event.js';
import { SESSION_DELETED, type SessionDeletedEvent } from '../sessions/session.events.js';
import { CacheService } from './cache.service.js';
import { sessionTag } from './cache.types.js';

/**
 * Forgets a session's cached views when it changes. Runs before the write is
 * acknowledged; if Redis cannot confirm, this instance reads around the cache for the
 * session and keeps retrying until it can.
 */
@Injectable()
export class CacheInvalidationListener {
  private readonly logger = new Logger(CacheInvalidationListener.name);

  constructor(private readonly cache: CacheService) {}

  @OnEvent(CHANGE_COMMITTED)
  async onChange(event: CommittedChange): Promise<void> {
    await this.forget(event.sessionKey);
  }

  @OnEvent(SESSION_DELETED)
  async onDeleted(event: SessionDeletedEvent): Promise<void> {
    await this.forget(event.key);
  }

  private async forget(key: string): Promise<void> {
    await this.cache.invalidate([sessionTag(key)]).catch((error: Error) => {
      this.logger.warn(`cache invalidation of session ${key} deferred: ${error.message}`);
    });
  }
}
