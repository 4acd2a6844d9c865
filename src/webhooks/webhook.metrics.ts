import { Injectable } from '@nestjs/common';
import { Metrics } from '../metrics/metrics.service.js';
import type { WebhookAttempt } from './webhook-transport.js';
import { WebhooksRepository } from './webhooks.repository.js';

/** Delivery attempts by outcome and their duration; webhooks disabled for failing; how long the oldest failing lane has failed. */
@Injectable()
export class WebhookMetrics {
  private readonly attempts;
  private readonly duration;
  readonly disabled;

  constructor(metrics: Metrics, repository: WebhooksRepository) {
    metrics.gauge({
      name: 'webhook_oldest_failing_seconds',
      help: 'How long the longest-failing lane of an enabled webhook has been failing (0: none), cluster-wide',
      async collect() {
        this.set(await repository.oldestFailingSeconds().catch(() => 0));
      },
    });
    this.attempts = metrics.counter({
      name: 'webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome (delivered, http_error, no_answer)',
      labelNames: ['outcome'],
    });
    this.duration = metrics.histogram({
      name: 'webhook_delivery_duration_seconds',
      help: 'How long receivers took to answer a webhook delivery',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.disabled = metrics.counter({
      name: 'webhooks_disabled_total',
      help: 'Webhooks disabled after failing for WEBHOOK_DISABLE_AFTER_MS',
    });
  }

  observe(result: WebhookAttempt): void {
    this.attempts.inc({ outcome: result.delivered ? 'delivered' : result.status !== null ? 'http_error' : 'no_answer' });
    if (result.durationMs > 0) this.duration.observe(result.durationMs / 1000);
  }
}
