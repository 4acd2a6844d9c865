import { Module } from '@nestjs/common';
import { ThemesModule } from '../themes/themes.module.js';
import { IdempotencyRepository } from './idempotency.repository.js';
import { SessionKeyGenerator } from './session-key.generator.js';
import { SessionKeyStats } from './session-key.stats.js';
import { SessionRetention } from './session-retention.js';
import { SessionTypesRegistry } from './session-types.registry.js';
import { SessionTypesRepository } from './session-types.repository.js';
import { SessionsController } from './sessions.controller.js';
import { SessionsRepository } from './sessions.repository.js';
import { SessionsService } from './sessions.service.js';

@Module({
  imports: [ThemesModule],
  controllers: [SessionsController],
  providers: [
    IdempotencyRepository,
    SessionKeyGenerator,
    SessionKeyStats,
    SessionRetention,
    SessionTypesRegistry,
    SessionTypesRepository,
    SessionsRepository,
    SessionsService,
  ],
  exports: [SessionsService, SessionKeyStats, SessionRetention],
})
export class SessionsModule {}
