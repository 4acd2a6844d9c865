import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { JobQueue } from '../queues/job-queue.js';
import { JobName } from '../queues/queue.names.js';
import type { ExportBody } from './dto.js';
import { SessionAccess } from '../sessions/session-access.service.js';

@Injectable()
export class ExportsService {
  constructor(
    private readonly access: SessionAccess,
    private readonly jobs: JobQueue,
  ) {}

  /** Anyone who can read the session may export it. */
  async request(principal: Principal, key: string, body: ExportBody, idempotencyKey?: string): Promise<{ jobId: string }> {
    const { id: sessionId } = await this.access.require(principal, key, 'read');
    return this.jobs.submit(
      JobName.Export,
      { principal, sessionKey: key, sessionId, body, idempotencyKey },
      { format: body.format, artifactId: randomUUID() },
    );
  }
}
