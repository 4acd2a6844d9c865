import { Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';
import { JobName, type JobPayloads } from '../queues/queue.names.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';

/** Sends a logged attempt's change once more, when its webhook's owner asks. */
@Injectable()
@JobProcessor()
export class WebhookRedeliveryProcessor implements JobHandler<typeof JobName.RedeliverWebhook> {
  readonly job = JobName.RedeliverWebhook;

  constructor(private readonly deliverer: WebhookLaneDeliverer) {}

  handle(job: Job<JobPayloads[typeof JobName.RedeliverWebhook]>): Promise<{ delivered: boolean }> {
    return this.deliverer.redeliver(job.data.webhookId, job.data.deliveryId);
  }
}
