import { Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { DocumentReader } from './document.reader.js';
import { JobName, type SessionJob } from '../queues/queue.names.js';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';

/**
 * Loads an edited session back into the cache, so the next reader after a burst of edits
 * hits it; a session too large for the cache is left alone (`seq: null`).
 */
@Injectable()
@JobProcessor()
export class WarmDocumentProcessor implements JobHandler<typeof JobName.WarmDocument> {
  readonly job = JobName.WarmDocument;

  constructor(private readonly reader: DocumentReader) {}

  async handle(job: Job<SessionJob>): Promise<{ seq: number | null }> {
    return { seq: await this.reader.warm(job.data.sessionKey) };
  }
}
