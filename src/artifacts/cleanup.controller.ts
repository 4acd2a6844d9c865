import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { RequireAdmin } from '../common/principal.js';
import { JobQueue } from '../queues/job-queue.js';
import { JobName } from '../queues/queue.names.js';
import { CleanupStatsService, type CleanupStats } from './cleanup-stats.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { CleanupStatsSchema, JobAcceptedSchema } from '../contract/schemas.js';

@ApiTags('admin')
@RequireAdmin()
@Controller('api/admin/cleanup')
export class CleanupController {
  constructor(
    private readonly stats: CleanupStatsService,
    private readonly jobs: JobQueue,
  ) {}

  /** How much the artifact store holds, how much is due for deletion, and what the last cleanup did. */
  @Get('stats')
  @ApiOperationDoc({
    id: 'getCleanupStats',
    summary: 'Artifact cleanup figures',
    description: 'How much the artifact store holds, how much is due for deletion, and what the last cleanup did.',
    auth: 'admin',
    responses: {
      200: { description: 'The figures.', schema: CleanupStatsSchema },
    },
  })
  cleanupStats(): Promise<CleanupStats> {
    return this.stats.stats();
  }

  /** Runs a cleanup now, besides the schedule; follow it at `/api/jobs/:jobId`. */
  @Post('run')
  @HttpCode(202)
  @ApiOperationDoc({
    id: 'runCleanup',
    summary: 'Run the artifact cleanup now',
    description: 'Besides the schedule; follow it at `/api/jobs/{jobId}`.',
    auth: 'admin',
    responses: { 202: { description: 'Queued.', schema: JobAcceptedSchema } },
  })
  async run(): Promise<{ jobId: string }> {
    return { jobId: await this.jobs.queueInternal(JobName.CleanupArtifacts, {}) };
  }
}
