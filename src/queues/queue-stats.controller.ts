import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { QueueStatsService, type QueueStats } from './queue-stats.service.js';
import { z } from 'zod';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { QueueStatsSchema } from '../contract/schemas.js';

@ApiTags('admin')
@RequireAdmin()
@Controller('api/admin/queues')
export class QueueStatsController {
  constructor(private readonly stats: QueueStatsService) {}

  /** Per queue: how much waits, runs, finished or failed, how many workers take it, and whether it is stuck. */
  @Get('stats')
  @ApiOperationDoc({
    id: 'getQueueStats',
    summary: 'Queue figures',
    description: 'Per queue: how much waits, runs, finished or failed, how many workers take it, and whether it is stuck.',
    auth: 'admin',
    responses: {
      200: {
        description: 'The figures.',
        schema: z.array(QueueStatsSchema),
      },
    },
  })
  queueStats(): Promise<QueueStats[]> {
    return this.stats.stats();
  }
}
