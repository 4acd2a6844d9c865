import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { JobsOptions } from 'bullmq';
import { principalScope, type Principal } from '../common/principal.js';
import { derivedUuid } from '../common/ids.js';
import { AppError } from '../errors/app-error.js';
import { QUEUE_OF, type JobName, type JobPayloads, type RequestedJob, type RequestedJobName } from './queue.names.js';
import { priorityOf } from './queue.options.js';
import { QueueRegistry } from './queue.registry.js';

export interface JobRequest {
  principal: Principal;
  sessionKey: string;
  /** The session the caller was allowed to ask about (the job is bound to it). */
  sessionId: string;
  /** The request as the caller sent it: what an Idempotency-Key is bound to. */
  body: unknown;
  idempotencyKey?: string;
}

/** How long a queue operation may take before the request answers 503 instead of hanging on Redis. */
const QUEUE_DEADLINE_MS = 5000;

/** Where features queue jobs: the ones callers ask for (bound to a session) and Tessera's own upkeep. */
@Injectable()
export class JobQueue {
  constructor(private readonly queues: QueueRegistry) {}

  /**
   * Queues a job for the caller, prioritised by plan. With an Idempotency-Key the job id
   * derives from (caller, job, session id, key): a retried request finds the job already
   * queued and gets the same id; the same key with another body is refused.
   */
  async submit<N extends RequestedJobName>(
    name: N,
    request: JobRequest,
    data: Omit<JobPayloads[N], keyof RequestedJob>,
  ): Promise<{ jobId: string }> {
    const queue = this.queues.get(QUEUE_OF[name]);
    const requestHash = sha256(JSON.stringify([name, request.sessionKey, request.body]));
    const jobId = request.idempotencyKey
      ? derivedUuid(principalScope(request.principal), name, request.sessionId, request.idempotencyKey)
      : randomUUID();
    const { sessionKey, sessionId, principal } = request;
    const payload = { ...data, sessionKey, sessionId, principal, requestHash } as JobPayloads[N];
    await withDeadline(queue.add(name, payload, { jobId, priority: priorityOf(request.principal) }));
    if (request.idempotencyKey) {
      const stored = await withDeadline(queue.getJob(jobId));
      if (stored && (stored.data as RequestedJob).requestHash !== requestHash) throw new AppError('IDEMPOTENCY_KEY_REUSED');
    }
    return { jobId };
  }

  /** Queues one of Tessera's own jobs (upkeep, not asked for by a caller). */
  async queueInternal<N extends Exclude<JobName, RequestedJobName>>(
    name: N,
    data: JobPayloads[N],
    options: JobsOptions = {},
  ): Promise<string> {
    const job = await withDeadline(this.queues.get(QUEUE_OF[name]).add(name, data, { jobId: randomUUID(), ...options }));
    return job.id!;
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Queue operations answer 503 when Redis does not, instead of holding the request. */
export async function withDeadline<T>(operation: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      operation,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new AppError('SERVICE_UNAVAILABLE', 'The job queue is unavailable; retry shortly.')),
          QUEUE_DEADLINE_MS,
        );
      }),
    ]);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError('SERVICE_UNAVAILABLE', 'The job queue is unavailable; retry shortly.');
  } finally {
    clearTimeout(timer);
  }
}
