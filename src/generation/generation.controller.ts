import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../common/principal.js';
import { IdempotencyKey } from '../common/idempotency-key.js';
import { ApiIdempotentJob } from '../queues/job-request.js';
import { RateLimit, Admission } from '../rate-limit/rate-limit.guard.js';
import { SessionKeyPipe } from '../sessions/session-key.pipe.js';
import { GenerateBody, ImageBody, ThinkBody } from './dto.js';
import { GenerationService } from './generation.service.js';
import { ApiOperationDoc } from '../common/openapi/api-operation.decorator.js';
import { JobAcceptedSchema } from '../contract/schemas.js';

type JobAccepted = Promise<{ jobId: string }>;

@ApiTags('jobs')
@Admission()
@Controller('api/sessions/:key')
export class GenerationController {
  constructor(private readonly generation: GenerationService) {}

  /** A prompt into blocks (`mode: blocks`) or an outline, inserted as versioned writes after an automatic snapshot. */
  @Post('generate')
  @HttpCode(202)
  @RateLimit('ai-generation')
  @ApiIdempotentJob()
  @ApiOperationDoc({
    id: 'generateBlocks',
    summary: 'Generate blocks from a prompt',
    description: 'A prompt into blocks (`mode: blocks`) or an outline, inserted as versioned writes after an automatic snapshot.',
    auth: 'optional',
    responses: { 202: { description: 'Queued.', schema: JobAcceptedSchema } },
    errors: ['READ_ONLY', 'IDEMPOTENCY_KEY_REUSED'],
  })
  generate(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: GenerateBody }) body: GenerateBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
  ): JobAccepted {
    return this.generation.generate(principal, key, body, idempotencyKey);
  }

  /** A goal planned into sections, each written by an ai-generation child job; completes when all have. */
  @Post('think')
  @HttpCode(202)
  @RateLimit('ai-generation')
  @ApiIdempotentJob()
  @ApiOperationDoc({
    id: 'generateSections',
    summary: 'Plan and write sections from a goal',
    description: 'A goal planned into sections, each written by a child job; the job completes when all have.',
    auth: 'optional',
    responses: { 202: { description: 'Queued.', schema: JobAcceptedSchema } },
    errors: ['READ_ONLY', 'IDEMPOTENCY_KEY_REUSED'],
  })
  think(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: ThinkBody }) body: ThinkBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
  ): JobAccepted {
    return this.generation.think(principal, key, body, idempotencyKey);
  }

  /** An image from a prompt: an artifact, and an `image` block at the end of the session. */
  @Post('images')
  @HttpCode(202)
  @RateLimit('image-generation')
  @ApiIdempotentJob()
  @ApiOperationDoc({
    id: 'generateImage',
    summary: 'Generate an image',
    description: 'An image from a prompt: an artifact, and an `image` block at the end of the session.',
    auth: 'optional',
    responses: { 202: { description: 'Queued.', schema: JobAcceptedSchema } },
    errors: ['READ_ONLY', 'IDEMPOTENCY_KEY_REUSED'],
  })
  image(
    @CurrentPrincipal() principal: Principal,
    @Param('key', SessionKeyPipe) key: string,
    @Body({ schema: ImageBody }) body: ImageBody,
    @IdempotencyKey() idempotencyKey: string | undefined,
  ): JobAccepted {
    return this.generation.image(principal, key, body, idempotencyKey);
  }
}
