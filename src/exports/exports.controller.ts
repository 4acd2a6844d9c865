import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { IdempotencyKey } from '../common/idempotency-key.js';
import { ApiIdempotentJob } from '../queues/job-request.js';
import { RateLimit, Admission } from '../rate-limit/rate-limit.guard.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { ExportBody } from './dto.js';
import { ExportsService } from './exports.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { EXAMPLE_JOB_ACCEPTED } from '../common/openapi/examples.js';
import { JobAcceptedSchema } from '../contract/schemas.js';

@ApiTags('jobs')
@Admission()
@Controller('api/sessions/:key/exports')
export class ExportsController {
  constructor(private readonly exports: ExportsService) {}

  /** Renders the session to json, markdown or html in the background; the job's result names the artifact. */
  @Post()
  @HttpCode(202)
  @RateLimit('exports')
  @ApiIdempotentJob()
  @ApiOperationDoc({
    id: 'exportSession',
    summary: 'Export a session',
    description: "Renders the session to json, markdown or html in the background; the job's result names the artifact.",
    auth: 'optional',
    requestExample: { format: 'markdown' },
    responses: { 202: { description: 'Queued.', schema: JobAcceptedSchema, example: EXAMPLE_JOB_ACCEPTED } },
    errors: ['IDEMPOTENCY_KEY_REUSED'],
  })
  request(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: ExportBody }) body: ExportBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
  ): Promise<{ jobId: string }> {
    return this.exports.request(principal, key, body, idempotencyKey);
  }
}
