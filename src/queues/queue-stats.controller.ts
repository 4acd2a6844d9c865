import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { QueueStatsService, type QueueStats } from './queue-stats.service.js';

@ApiTags('admin')
@ApiBearerAuth()
@RequireAdmin()
@Controller('api/admin/queues')
export class QueueStatsController {
  constructor(private readonly stats: QueueStatsService) {}

  /** Per queue: how much waits, runs, finished or failed, how many workers take it, and whether it is stuck. */
  @Get('stats')
  queueStats(): Promise<QueueStats[]> {
    return this.stats.stats();
  }
}
