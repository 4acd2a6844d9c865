import { Injectable, Logger } from '@nestjs/common';
import { OnAppEvent, type JobUpdatedEvent } from '../events/app-events.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';
import { WebhooksRepository } from './webhooks.repository.js';

/**
 * A job of a session that completed or failed (for good: not an attempt that will be retried)
 * is kept for every webhook of `job.completed` / `job.failed` on that session whose owner may
 * still own it (the one access rule), then delivered.
 */
@Injectable()
export class WebhookJobListener {
  private readonly logger = new Logger(WebhookJobListener.name);

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly deliverer: WebhookLaneDeliverer,
  ) {}

  @OnAppEvent('job.updated')
  async onJob(event: JobUpdatedEvent): Promise<void> {
    const { state } = event.payload;
    if (state !== 'completed' && state !== 'failed') return;
    const type = state === 'completed' ? 'job.completed' : 'job.failed';
    const { jobId, queue, name, result, error } = event.payload;
    const data = {
      sessionKey: event.sessionKey,
      jobId,
      queue,
      name,
      state,
      ...(result !== undefined && { result }),
      ...(error && { error }),
    };
    const body = JSON.stringify({ type, timestamp: new Date().toISOString(), data });
    try {
      const ids = await this.repository.recordEvent({ id: event.sessionId, key: event.sessionKey }, type, body);
      await Promise.all(ids.map((id) => this.deliverer.kickEvent(id)));
    } catch (error) {
      this.logger.error(`keeping ${type} of job ${jobId} for webhooks failed: ${(error as Error).message}`);
    }
  }
}
