import { Module } from '@nestjs/common';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { SweepChangesProcessor } from './change-log.processor.js';
import { ChangesController } from './changes.controller.js';
import { ChangeLogRetention } from './change-log.retention.js';
import { ChangesRepository } from './changes.repository.js';
import { ChangesService } from './changes.service.js';

/** The change log and the bus its entries are announced on; every writer of a session uses it. */
@Module({
  imports: [RateLimitModule, SessionsModule],
  controllers: [ChangesController],
  providers: [ChangeLogRetention, ChangesRepository, ChangesService, SweepChangesProcessor],
  exports: [ChangeLogRetention, ChangesService],
})
export class ChangesModule {}
