import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { JobQueue } from '../queues/job-queue.js';
import { JobName } from '../queues/queue.names.js';

/** Queues the webhook jobs: a lane's run, an event's, a redelivery's; and wakes parked runs. */
@Injectable()
export class WebhookKicks {
  private readonly logger = new Logger(WebhookKicks.name);

  constructor(private readonly queue: JobQueue) {}

  /**
   * Asks a worker to look at the lane, after `delayMs`. A kick for now joins the lane's one
   * waiting job if it has one (that job reads the log when it starts, so it sees this change
   * too); while the lane's job runs, one more is kept to follow it. So a busy lane has at most
   * one job running and one waiting, however many changes it gets: the queue's limiter counts
   * runs of lanes, not changes, and never holds a change back behind a crowd of redundant jobs.
   * A delayed kick (a retry, the end of a lease) is named by `tag` instead: one whose job id
   * exists (waiting, delayed or running) is dropped.
   */
  async lane(webhookId: string, sessionId: string, delayMs = 0, tag = 'now'): Promise<void> {
    const job = { webhookId, sessionId };
    const options =
      delayMs > 0
        ? { jobId: `${tag}-${webhookId}-${sessionId}`, delay: delayMs }
        : { deduplication: { id: `lane-${webhookId}-${sessionId}`, keepLastIfActive: true } };
    await this.queue.queueInternal(JobName.DeliverWebhook, job, { ...options, removeOnComplete: true, removeOnFail: true });
  }

  async event(eventId: string, delayMs = 0, tag = 'now'): Promise<void> {
    await this.queue.queueInternal(
      JobName.DeliverWebhookEvent,
      { eventId },
      { jobId: `${tag}-${eventId}`, delay: delayMs, removeOnComplete: true, removeOnFail: true },
    );
  }

  async redelivery(webhookId: string, deliveryId: string): Promise<void> {
    await this.queue.queueInternal(JobName.RedeliverWebhook, { webhookId, deliveryId }, { removeOnComplete: true, removeOnFail: true });
  }

  /** Kicks parked runs (named as WebhookOwnerGate parks them); one whose kick fails is found by the sweep. */
  async wake(waiters: string[]): Promise<void> {
    const kicks = waiters.map((waiter) => {
      const [kind, id, other] = waiter.split(':');
      // An event's wake-up gets a job id of its own: the job that parked it may still be finishing.
      if (kind === 'event' && id) return this.event(id, 0, `wake${randomUUID()}`);
      if (kind === 'lane' && id && other) return this.lane(id, other);
      if (kind === 'redeliver' && id && other) return this.redelivery(id, other);
      return Promise.resolve();
    });
    for (const result of await Promise.allSettled(kicks)) {
      if (result.status === 'rejected') this.logger.warn(`waking a parked webhook delivery failed: ${(result.reason as Error).message}`);
    }
  }
}
