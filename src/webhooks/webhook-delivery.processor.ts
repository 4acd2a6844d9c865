import { Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { JobProcessor, type JobHandler, type JobRun } from '../queues/job-handler.js';
import { JobName, type WebhookLaneJob } from '../queues/queue.names.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';

/** Delivers one webhook lane's pending changes (see WebhookLaneDeliverer). */
@Injectable()
@JobProcessor()
export class WebhookDeliveryProcessor implements JobHandler<typeof JobName.DeliverWebhook> {
  readonly job = JobName.DeliverWebhook;

  constructor(private readonly deliverer: WebhookLaneDeliverer) {}

  handle(job: Job<WebhookLaneJob>, run: JobRun): Promise<{ delivered: number }> {
    return this.deliverer.run(job.data.webhookId, job.data.sessionId, run.signal);
  }
}
