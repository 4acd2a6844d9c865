import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { UuidParam } from '../common/ids.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import type { JobView } from '../queues/job.view.js';
import { JobsService } from './jobs.service.js';

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('api/jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  /** State, progress, attempts and result (or error) of a job of a session the caller can read. */
  @Get(':id')
  job(@CurrentPrincipal() principal: Principal, @Param('id', { schema: UuidParam }) id: string): Promise<JobView> {
    return this.jobs.find(principal, id);
  }
}
