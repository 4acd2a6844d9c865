import { Injectable, Logger } from '@nestjs/common';
import { OnAppEvent, type SessionDeletedEvent } from '../events/app-events.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';
import { WebhooksRepository } from './webhooks.repository.js';

/**
 * A deleted session's `session.deleted` events were kept, one per webhook, by the deleting
 * transaction itself; this asks a worker to send them (each waits for its lane of the session
 * to be done first). A kick lost here is taken up by the sweep.
 */
@Injectable()
export class WebhookSessionListener {
  private readonly logger = new Logger(WebhookSessionListener.name);

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly deliverer: WebhookLaneDeliverer,
  ) {}

  @OnAppEvent('session.deleted')
  async onDeleted(event: SessionDeletedEvent): Promise<void> {
    try {
      const ids = await this.repository.pendingSessionDeleted(event.key);
      await Promise.all(ids.map((id) => this.deliverer.kickEvent(id)));
    } catch (error) {
      this.logger.error(`queueing session.deleted of ${event.key} for webhooks failed: ${(error as Error).message}`);
    }
  }
}
