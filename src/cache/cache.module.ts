import { Global, Module } from '@nestjs/common';
import { CacheInvalidationListener } from './cache-invalidation.listener.js';
import { CacheStatsService } from './cache-stats.service.js';
import { CacheController } from './cache.controller.js';
import { CacheService } from './cache.service.js';

@Global()
@Module({
  controllers: [CacheController],
  providers: [CacheInvalidationListener, CacheService, CacheStatsService],
  exports: [CacheService],
})
export class CacheModule {}
