import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { JobQueue } from '../queues/job-queue.js';
import { JobName } from '../queues/queue.names.js';
import { CleanupStatsService, type CleanupStats } from './cleanup-stats.service.js';

@ApiTags('admin')
@ApiBearerAuth()
@RequireAdmin()
@Controller('api/admin/cleanup')
export class CleanupController {
  constructor(
    private readonly stats: CleanupStatsService,
    private readonly jobs: JobQueue,
  ) {}

  /** How much the artifact store holds, how much is due for deletion, and what the last cleanup did. */
  @Get('stats')
  cleanupStats(): Promise<CleanupStats> {
    return this.stats.stats();
  }

  /** Runs a cleanup now, besides the schedule; follow it at `/api/jobs/:jobId`. */
  @Post('run')
  @HttpCode(202)
  async run(): Promise<{ jobId: string }> {
    return { jobId: await this.jobs.queueInternal(JobName.CleanupArtifacts, {}) };
  }
}
