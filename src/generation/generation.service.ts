import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { JobQueue } from '../queues/job-queue.js';
import { JobName } from '../queues/queue.names.js';
import type { GenerateBody, ImageBody, ThinkBody } from './dto.js';
import { GeneratedBlocksWriter } from './generated-blocks.writer.js';

/** Generation writes into the session, so asking for it takes write access (checked again when the job runs). */
@Injectable()
export class GenerationService {
  constructor(
    private readonly writer: GeneratedBlocksWriter,
    private readonly jobs: JobQueue,
  ) {}

  async generate(principal: Principal, key: string, body: GenerateBody, idempotencyKey?: string): Promise<{ jobId: string }> {
    const { id: sessionId } = await this.writer.checkWritable(principal, key);
    return this.jobs.submit(
      JobName.Generate,
      { principal, sessionKey: key, sessionId, body, idempotencyKey },
      { prompt: body.prompt, mode: body.mode, seed: randomUUID() },
    );
  }

  async think(principal: Principal, key: string, body: ThinkBody, idempotencyKey?: string): Promise<{ jobId: string }> {
    const { id: sessionId } = await this.writer.checkWritable(principal, key);
    return this.jobs.submit(
      JobName.Think,
      { principal, sessionKey: key, sessionId, body, idempotencyKey },
      { goal: body.goal, seed: randomUUID(), step: 'plan' },
    );
  }

  async image(principal: Principal, key: string, body: ImageBody, idempotencyKey?: string): Promise<{ jobId: string }> {
    const { id: sessionId } = await this.writer.checkWritable(principal, key);
    return this.jobs.submit(
      JobName.Image,
      { principal, sessionKey: key, sessionId, body, idempotencyKey },
      { prompt: body.prompt, artifactId: randomUUID(), blockId: randomUUID() },
    );
  }
}
