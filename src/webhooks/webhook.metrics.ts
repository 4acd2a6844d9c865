import { Injectable } from '@nestjs/common';
import { Metrics } from '../metrics/metrics.service.js';
import type { WebhookAttempt } from './webhook-transport.js';
import { WebhooksRepository } from './webhooks.repository.js';

const OUTCOMES = ['delivered', 'http_error', 'no_answer'] as const;

/**
 * Delivery attempts by outcome and their duration; how long changes took from commit to
 * delivery; webhooks disabled for failing; runs parked behind their owner's other runs; and, cluster-wide, the oldest change or event still
 * to be delivered and the longest-failing lane or event.
 */
@Injectable()
export class WebhookMetrics {
  private readonly attempts;
  private readonly duration;
  private readonly lag;
  readonly disabled;
  readonly parked;

  constructor(metrics: Metrics, repository: WebhooksRepository) {
    metrics.gauge({
      name: 'webhook_oldest_failing_seconds',
      help: 'How long the longest-failing lane or event of an enabled webhook has been failing (0: none), cluster-wide',
      async collect() {
        this.set(await repository.oldestFailingSeconds().catch(() => 0));
      },
    });
    metrics.gauge({
      name: 'webhook_oldest_pending_seconds',
      help: 'Age of the oldest change or event not yet delivered to an enabled webhook (0: none), cluster-wide, by state (waiting: not failed yet, retrying: held back after a failure)',
      labelNames: ['state'],
      async collect() {
        const ages = await repository.oldestPendingSeconds().catch(() => ({ waiting: 0, retrying: 0 }));
        this.set({ state: 'waiting' }, ages.waiting);
        this.set({ state: 'retrying' }, ages.retrying);
      },
    });
    this.attempts = metrics.counter({
      name: 'webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome (delivered, http_error, no_answer)',
      labelNames: ['outcome'],
    });
    for (const outcome of OUTCOMES) this.attempts.inc({ outcome }, 0);
    this.duration = metrics.histogram({
      name: 'webhook_delivery_duration_seconds',
      help: 'How long receivers took to answer a webhook delivery',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.lag = metrics.histogram({
      name: 'webhook_delivery_lag_seconds',
      help: 'From a change being committed to its delivery to a webhook (retries included)',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400],
    });
    this.disabled = metrics.counter({
      name: 'webhooks_disabled_total',
      help: 'Webhooks disabled after failing for WEBHOOK_DISABLE_AFTER_MS',
    });
    this.parked = metrics.counter({
      name: 'webhook_parked_total',
      help: "Webhook delivery runs parked because their owner's WEBHOOK_OWNER_CONCURRENCY slots were all taken",
    });
  }

  observe(result: WebhookAttempt): void {
    this.attempts.inc({ outcome: result.delivered ? 'delivered' : result.status !== null ? 'http_error' : 'no_answer' });
    if (result.durationMs > 0) this.duration.observe(result.durationMs / 1000);
  }

  /** A change committed at `at` was delivered now. */
  delivered(at: string): void {
    const ms = Date.now() - Date.parse(at);
    if (Number.isFinite(ms)) this.lag.observe(Math.max(ms, 0) / 1000);
  }
}
