import { Module } from '@nestjs/common';
import { QueuesModule } from '../queues/queues.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { ArtifactCleanupProcessor } from './artifact-cleanup.processor.js';
import { ARTIFACT_STORAGE } from './artifact.storage.js';
import { ArtifactsController } from './artifacts.controller.js';
import { ArtifactsRepository } from './artifacts.repository.js';
import { ArtifactsService } from './artifacts.service.js';
import { CleanupController } from './cleanup.controller.js';
import { CleanupStatsService } from './cleanup-stats.service.js';
import { LocalArtifactStorage } from './local-artifact.storage.js';

@Module({
  imports: [QueuesModule, RateLimitModule, SessionsModule],
  controllers: [ArtifactsController, CleanupController],
  providers: [
    { provide: ARTIFACT_STORAGE, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new LocalArtifactStorage(config.ARTIFACTS_DIR) },
    ArtifactsRepository,
    ArtifactsService,
    CleanupStatsService,
    ArtifactCleanupProcessor,
  ],
  exports: [ArtifactsService],
})
export class ArtifactsModule {}
