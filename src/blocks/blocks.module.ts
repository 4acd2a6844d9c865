import { Module } from '@nestjs/common';
import { BlockWriter } from './block-writer.js';
import { BlocksController } from './blocks.controller.js';
import { BlocksRepository } from './blocks.repository.js';
import { BlocksService } from './blocks.service.js';
import { IdempotencyModule } from '../idempotency/idempotency.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';

@Module({
  imports: [IdempotencyModule, RateLimitModule, SessionsModule],
  controllers: [BlocksController],
  providers: [BlockWriter, BlocksRepository, BlocksService],
  exports: [BlocksService],
})
export class BlocksModule {}
