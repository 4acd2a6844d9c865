import { Module } from '@nestjs/common';
import { CacheModule } from '../cache/cache.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { ThemesModule } from '../themes/themes.module.js';
import { DocumentWarmListener } from './document-warm.listener.js';
import { DocumentReader } from './document.reader.js';
import { DocumentsRepository } from './documents.repository.js';
import { SessionAccess } from './session-access.service.js';
import { SessionCacheListener } from './session-cache.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { SessionKeyGenerator } from './session-key.generator.js';
import { SessionKeyStats } from './session-key.stats.js';
import { SessionRetention } from './session-retention.js';
import { SessionTypesRegistry } from './session-types.registry.js';
import { SessionTypesRepository } from './session-types.repository.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';
import { SessionHistoryController } from './session-history.controller.js';
import { TimeTravel } from './time-travel.service.js';
import { TimeTravelRepository } from './time-travel.repository.js';

@Module({
  imports: [CacheModule, RateLimitModule, ThemesModule],
  controllers: [SessionsController, SessionHistoryController],
  providers: [
    DocumentReader,
    DocumentsRepository,
    DocumentWarmListener,
    SessionAccess,
    SessionCacheListener,
    IdempotencyRepository,
    SessionKeyGenerator,
    SessionKeyStats,
    SessionRetention,
    SessionTypesRegistry,
    SessionTypesRepository,
    SessionsRepository,
    SessionsService,
    TimeTravel,
    TimeTravelRepository,
  ],
  exports: [DocumentReader, SessionAccess, SessionsService, SessionKeyStats, SessionRetention],
})
export class SessionsModule {}
