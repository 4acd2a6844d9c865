import { Injectable, Logger } from '@nestjs/common';
import { CacheService } from '../cache/cache.service.js';
import { OnAppEvent, type CommittedChange, type SessionDeletedEvent } from '../events/app-events.js';

/** The tag every cached view of one session carries. */
export const sessionTag = (sessionKey: string) => `session:${sessionKey}`;

/**
 * Forgets a session's cached views when it changes. Runs before the write is
 * acknowledged; if Redis cannot confirm, this instance reads around the cache for the
 * session and keeps retrying until it can.
 */
@Injectable()
export class SessionCacheListener {
  private readonly logger = new Logger(SessionCacheListener.name);

  constructor(private readonly cache: CacheService) {}

  @OnAppEvent('change.committed')
  async onChange(event: CommittedChange): Promise<void> {
    await this.forget(event.sessionKey);
  }

  @OnAppEvent('session.deleted')
  async onDeleted(event: SessionDeletedEvent): Promise<void> {
    await this.forget(event.key);
  }

  private async forget(key: string): Promise<void> {
    await this.cache.invalidate([sessionTag(key)]).catch((error: Error) => {
      this.logger.warn(`cache invalidation of session ${key} deferred: ${error.message}`);
    });
  }
}
