import { Injectable, Logger } from '@nestjs/common';
import { OnAppEvent, type CommittedChange } from '../events/app-events.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';
import { WebhooksRepository } from './webhooks.repository.js';

/**
 * Every committed change opens (or finds) the lanes of the webhooks it concerns and asks a
 * worker to deliver them. The change itself waits in the change log, committed with the
 * change; only the lane (one row per webhook and session) is written here, before the write
 * is acknowledged.
 */
@Injectable()
export class WebhookChangeListener {
  private readonly logger = new Logger(WebhookChangeListener.name);

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly deliverer: WebhookLaneDeliverer,
  ) {}

  @OnAppEvent('change.committed')
  async onChange(event: CommittedChange): Promise<void> {
    try {
      const webhooks = await this.repository.lanesFor(event.sessionId, event.change.seq);
      // One job per change: a kick named like one already running (the lane's holder, about to finish) would be dropped.
      await Promise.all(webhooks.map((webhookId) => this.deliverer.kick(webhookId, event.sessionId, 0, `c${event.change.seq}`)));
    } catch (error) {
      this.logger.error(`queueing webhook deliveries for session ${event.sessionKey} failed: ${(error as Error).message}`);
    }
  }
}
