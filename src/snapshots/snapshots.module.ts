import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { BlocksModule } from '../blocks/blocks.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SweepSnapshotsProcessor } from './snapshots.processor.js';
import { SnapshotsController } from './snapshots.controller.js';
import { SnapshotsRepository } from './snapshots.repository.js';
import { SnapshotsService } from './snapshots.service.js';

@Module({
  imports: [AuthModule, BlocksModule, RateLimitModule, SessionsModule],
  controllers: [SnapshotsController],
  providers: [SnapshotsRepository, SnapshotsService, SweepSnapshotsProcessor],
  exports: [SnapshotsService],
})
export class SnapshotsModule {}
