import { Module, RequestMethod, type DynamicModule } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { LoggerModule } from 'nestjs-pino';
import { AdminModule } from './admin/admin.module.js';
import { AuthModule } from './auth/auth.module.js';
import { BlocksModule } from './blocks/blocks.module.js';
import { CacheModule } from './cache/cache.module.js';
import { ChangesModule } from './changes/changes.module.js';
import type { AppConfig } from './config/app-config.js';
import { CollaborationModule } from './collaboration/collaboration.module.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { HealthModule } from './health/health.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { RedisModule } from './redis/redis.module.js';
import { SessionsModule } from './sessions/sessions.module.js';
import { SnapshotsModule } from './snapshots/snapshots.module.js';
import { ThemesModule } from './themes/themes.module.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
          pinoHttp: {
            level: config.LOG_LEVEL,
            genReqId: (req) => (req as { id?: string }).id ?? 'unknown',
            serializers: {
              req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
                id: req.id,
                method: req.method,
                url: req.url,
                remoteAddress: req.remoteAddress,
              }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
            autoLogging: { ignore: (req) => req.url?.startsWith('/api/health') === true || req.url === '/health' },
            customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
          },
        }),
        EventEmitterModule.forRoot(),
        DatabaseModule,
        RedisModule,
        CacheModule,
        RateLimitModule,
        ChangesModule,
        HealthModule,
        AuthModule,
        ThemesModule,
        SessionsModule,
        BlocksModule,
        SnapshotsModule,
        CollaborationModule,
        AdminModule,
      ],
    };
  }
}
