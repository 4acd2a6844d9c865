import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { UuidParam } from '../common/ids.js';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import type { JobView } from '../queues/job.view.js';
import { JobsService } from './jobs.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { EXAMPLE_JOB } from '../common/openapi/examples.js';
import { JobSchema } from '../contract/schemas.js';

@ApiTags('jobs')
@Controller('api/jobs')
export class JobsController {
  constructor(private readonly jobs: JobsService) {}

  /** State, progress, attempts and result (or error) of a job of a session the caller can read. */
  @Get(':id')
  @ApiOperationDoc({
    id: 'getJob',
    summary: 'Get a job',
    description: 'State, progress, attempts and result (or error) of a job of a session the caller can read.',
    auth: 'optional',
    responses: { 200: { description: 'The job.', schema: JobSchema, example: EXAMPLE_JOB } },
    errors: ['JOB_NOT_FOUND'],
  })
  job(@CurrentPrincipal() principal: Principal, @Param('id', { schema: UuidParam }) id: string): Promise<JobView> {
    return this.jobs.find(principal, id);
  }
}
