import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { CacheStatsService, type CacheStats } from '../cache/cache-stats.service.js';

@ApiTags('admin')
@ApiBearerAuth()
@RequireAdmin()
@Controller('api/admin/cache')
export class CacheController {
  constructor(private readonly stats: CacheStatsService) {}

  /** Hit ratio per cached type since the counters began, and what the cache holds now. */
  @Get('stats')
  cacheStats(): Promise<CacheStats> {
    return this.stats.stats();
  }
}
