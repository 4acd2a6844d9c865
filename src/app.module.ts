import { Module, type DynamicModule } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { AdminModule } from './admin/admin.module.js';
import { ArtifactsModule } from './artifacts/artifacts.module.js';
import { AuthModule } from './auth/auth.module.js';
import { BlocksModule } from './blocks/blocks.module.js';
import { CacheModule } from './cache/cache.module.js';
import { ChangesModule } from './changes/changes.module.js';
import type { AppConfig } from './config/app-config.js';
import { BroadcastModule } from './collaboration/broadcast.module.js';
import { CollaborationModule } from './collaboration/collaboration.module.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { EventsModule } from './events/events.module.js';
import { ExportsModule } from './exports/exports.module.js';
import { GenerationModule } from './generation/generation.module.js';
import { HealthModule } from './health/health.module.js';
import { JobsModule } from './jobs/jobs.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { QueuesModule } from './queues/queues.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { RedisModule } from './redis/redis.module.js';
import { SessionsModule } from './sessions/sessions.module.js';
import { MembersModule } from './members/members.module.js';
import { SnapshotsModule } from './snapshots/snapshots.module.js';
import { ThemesModule } from './themes/themes.module.js';
import { UndoModule } from './undo/undo.module.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';
import { WorkersModule } from './workers/workers.module.js';

/**
 * `api`: HTTP and Socket.IO (and the queue workers with RUN_WORKERS=true).
 * `worker`: the queue workers, publishing to sessions' rooms without holding sockets.
 */
export type ProcessRole = 'api' | 'worker';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, role: ProcessRole = 'api'): DynamicModule {
    const runWorkers = role === 'worker' || config.RUN_WORKERS;
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        EventEmitterModule.forRoot(),
        // The kernel: global infrastructure every feature may inject.
        MetricsModule,
        DatabaseModule,
        RedisModule,
        EventsModule,
        // Shared modules, imported by the features that use them.
        CacheModule,
        RateLimitModule,
        HealthModule,
        QueuesModule,
        AuthModule,
        // Features: each owns its routes, events and jobs.
        ThemesModule,
        SessionsModule,
        MembersModule,
        ChangesModule,
        BlocksModule,
        SnapshotsModule,
        UndoModule,
        JobsModule,
        ArtifactsModule,
        ExportsModule,
        GenerationModule,
        WebhooksModule,
        role === 'api' ? CollaborationModule : BroadcastModule,
        AdminModule,
        ...(runWorkers ? [WorkersModule.forRoot(config)] : []),
      ],
    };
  }
}
