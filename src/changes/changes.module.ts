import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module.js';
import { ChangeFeedChannel } from './change-feed.channel.js';
import { ChangeFeedController } from './change-feed.controller.js';
import { ChangeFeedService } from './change-feed.service.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { SweepChangesProcessor } from './change-log.processor.js';
import { ChangesController } from './changes.controller.js';
import { ChangeLogRetention } from './change-log.retention.js';
import { ChangesRepository } from './changes.repository.js';
import { ChangesService } from './changes.service.js';

/** The change log, the feed that follows it live, and their retention; every writer of a session uses it. */
@Module({
  imports: [HealthModule, RateLimitModule, SessionsModule],
  controllers: [ChangesController, ChangeFeedController],
  providers: [ChangeFeedChannel, ChangeFeedService, ChangeLogRetention, ChangesRepository, ChangesService, SweepChangesProcessor],
  exports: [ChangeLogRetention, ChangesService],
})
export class ChangesModule {}
