import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { CacheStatsService, type CacheStats } from '../cache/cache-stats.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { CacheStatsSchema } from '../contract/schemas.js';

@ApiTags('admin')
@RequireAdmin()
@Controller('api/admin/cache')
export class CacheController {
  constructor(private readonly stats: CacheStatsService) {}

  /** Hit ratio per cached type since the counters began, and what the cache holds now. */
  @Get('stats')
  @ApiOperationDoc({
    id: 'getCacheStats',
    summary: 'Cache figures',
    description: 'Hit ratio per cached type since the counters began, and what the cache holds now.',
    auth: 'admin',
    responses: {
      200: {
        description: 'The figures.',
        schema: CacheStatsSchema,
      },
    },
  })
  cacheStats(): Promise<CacheStats> {
    return this.stats.stats();
  }
}
