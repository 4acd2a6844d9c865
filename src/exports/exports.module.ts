import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { QueuesModule } from '../queues/queues.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { ExportProcessor } from './export.processor.js';
import { ExportsController } from './exports.controller.js';
import { ExportsService } from './exports.service.js';

@Module({
  imports: [ArtifactsModule, QueuesModule, RateLimitModule, SessionsModule],
  controllers: [ExportsController],
  providers: [ExportsService, ExportProcessor],
})
export class ExportsModule {}
