import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { BlocksModule } from '../blocks/blocks.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { SnapshotsController } from './snapshots.controller.js';
import { SnapshotsRepository } from './snapshots.repository.js';
import { SnapshotsService } from './snapshots.service.js';

@Module({
  imports: [AuthModule, BlocksModule, SessionsModule],
  controllers: [SnapshotsController],
  providers: [SnapshotsRepository, SnapshotsService],
  exports: [SnapshotsService],
})
export class SnapshotsModule {}
