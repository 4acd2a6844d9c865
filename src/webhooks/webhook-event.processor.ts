import { Injectable } from '@nestjs/common';
import type { Job } from 'bullmq';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';
import { JobName, type JobPayloads } from '../queues/queue.names.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';

/** Delivers one pending event other than a change (a job of the session completed or failed). */
@Injectable()
@JobProcessor()
export class WebhookEventProcessor implements JobHandler<typeof JobName.DeliverWebhookEvent> {
  readonly job = JobName.DeliverWebhookEvent;

  constructor(private readonly deliverer: WebhookLaneDeliverer) {}

  handle(job: Job<JobPayloads[typeof JobName.DeliverWebhookEvent]>): Promise<{ delivered: boolean }> {
    return this.deliverer.runEvent(job.data.eventId);
  }
}
