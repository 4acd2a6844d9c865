import { Injectable, Logger } from '@nestjs/common';
import { OnAppEvent, type CommittedChange } from '../events/app-events.js';
import { WebhookCoverage } from './webhook-coverage.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';
import { WebhooksRepository } from './webhooks.repository.js';

/**
 * Every committed change asks a worker to deliver the lanes of the webhooks it concerns. The
 * change waits in the change log and its lanes were opened in its own transaction, so nothing
 * is written here; when no webhook may cover the session (known in memory), nothing is read
 * either.
 */
@Injectable()
export class WebhookChangeListener {
  private readonly logger = new Logger(WebhookChangeListener.name);

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly deliverer: WebhookLaneDeliverer,
    private readonly coverage: WebhookCoverage,
  ) {}

  @OnAppEvent('change.committed')
  async onChange(event: CommittedChange): Promise<void> {
    try {
      if (!(await this.coverage.covers(event.ownerId ?? null))) return;
      const webhooks = await this.repository.lanesBehind(event.sessionId, event.change.seq);
      // One job per change: a kick named like one already running (the lane's holder, about to finish) would be dropped.
      await Promise.all(webhooks.map((webhookId) => this.deliverer.kick(webhookId, event.sessionId, 0, `c${event.change.seq}`)));
    } catch (error) {
      this.logger.error(`queueing webhook deliveries for session ${event.sessionKey} failed: ${(error as Error).message}`);
    }
  }
}
