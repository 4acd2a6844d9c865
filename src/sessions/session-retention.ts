import { Injectable, Logger } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { IdempotencyRecordsRepository } from '../idempotency/idempotency.repository.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { SessionsRepository } from './sessions.repository.js';
import type { Actor } from '../contract/actor.js';
import { EventBus } from '../events/event-bus.js';

const BATCH = 500;
const RETENTION: Actor = { userId: null, displayName: 'Retention' };

export interface RetentionRun {
  sessionsDeleted: number;
  idempotencyKeysDeleted: number;
}

/**
 * What sessions leave behind and nobody will come back for: ownerless sessions nobody modified
 * for SESSION_RETENTION_DAYS (deleted, announced like any deletion, their keys free again) and
 * idempotency keys (session creates' bindings, every other write's recorded answer) past their 24 h. Run by the cleanup job, once per cluster.
 */
@Injectable()
export class SessionRetention {
  private readonly logger = new Logger(SessionRetention.name);

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly idempotency: IdempotencyRepository,
    private readonly records: IdempotencyRecordsRepository,
    private readonly events: EventBus,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async sweep(): Promise<RetentionRun> {
    const cutoff = new Date(Date.now() - this.config.SESSION_RETENTION_DAYS * 86_400_000);
    let sessionsDeleted = 0;
    for (;;) {
      const keys = await this.sessions.deleteAbandoned(cutoff, BATCH);
      const at = new Date().toISOString();
      for (const key of keys) await this.events.emit('session.deleted', { key, actor: RETENTION, at });
      sessionsDeleted += keys.length;
      if (keys.length < BATCH) break;
    }
    let idempotencyKeysDeleted = 0;
    for (const repository of [this.idempotency, this.records]) {
      for (;;) {
        const deleted = await repository.deleteExpired(BATCH);
        idempotencyKeysDeleted += deleted;
        if (deleted < BATCH) break;
      }
    }
    if (sessionsDeleted)
      this.logger.log(`retention deleted ${sessionsDeleted} ownerless session(s) untouched for ${this.config.SESSION_RETENTION_DAYS} days`);
    return { sessionsDeleted, idempotencyKeysDeleted };
  }
}
