import { Module } from '@nestjs/common';
import { CacheStatsService } from './cache-stats.service.js';
import { CacheService } from './cache.service.js';

@Module({
  providers: [CacheService, CacheStatsService],
  exports: [CacheService, CacheStatsService],
})
export class CacheModule {}
