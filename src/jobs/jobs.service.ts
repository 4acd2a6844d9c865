import { Injectable } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import type { Principal } from '../common/principal.js';
import { AppError } from '../errors/app-error.js';
import { withDeadline } from '../queues/job-queue.js';
import { isJobOf } from '../queues/job-session.js';
import { publicState, toJobView, type JobView } from '../queues/job.view.js';
import type { QueueName, RequestedJob } from '../queues/queue.names.js';
import { QueueRegistry } from '../queues/queue.registry.js';
import { SessionAccess } from '../sessions/session-access.service.js';

/** What a caller may know of a job: its state, progress and result, if it belongs to a session they can read. */
@Injectable()
export class JobsService {
  constructor(
    private readonly queues: QueueRegistry,
    private readonly access: SessionAccess,
  ) {}

  /**
   * A job the caller may see: one of a session they can read that still exists, the same session
   * and not a later one under its key (operators see all). Unknown and hidden look alike.
   */
  async find(principal: Principal, id: string): Promise<JobView> {
    const found = await withDeadline(this.lookup(id));
    if (!found) throw new AppError('JOB_NOT_FOUND');
    const { queue } = found;
    let { job } = found;
    const data = job.data as Partial<RequestedJob>;
    if (principal.kind !== 'admin') {
      if (!data.sessionKey || !data.sessionId || !data.principal) throw new AppError('JOB_NOT_FOUND');
      const session = await this.access.require(principal, data.sessionKey, 'read').catch((error: unknown) => {
        throw error instanceof AppError && error.code === 'SESSION_NOT_FOUND' ? new AppError('JOB_NOT_FOUND') : error;
      });
      if (!isJobOf(session, data)) throw new AppError('JOB_NOT_FOUND');
    }
    const state = publicState(await withDeadline(job.getState()));
    if (!state) throw new AppError('JOB_NOT_FOUND');
    // The job finished between the two reads: read it again, so its result or error comes with the state.
    if ((state === 'completed' || state === 'failed') && !job.finishedOn)
      job = (await withDeadline(this.queues.get(queue).getJob(id))) ?? job;
    return toJobView(job, queue, state);
  }

  private async lookup(id: string): Promise<{ job: Job; queue: QueueName } | null> {
    const found = await Promise.all(
      this.queues.all().map(async ([name, queue]: [QueueName, Queue]) => ({ queue: name, job: await queue.getJob(id) })),
    );
    const hit = found.find((f) => f.job);
    return hit?.job ? { job: hit.job, queue: hit.queue } : null;
  }
}
