import { Module } from '@nestjs/common';
import { ChangesModule } from '../changes/changes.module.js';
import { QueuesModule } from '../queues/queues.module.js';
import { RateLimitModule } from '../rate-limit/rate-limit.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { WebhookChangeListener } from './webhook-change.listener.js';
import { WebhookCoverage } from './webhook-coverage.js';
import { WebhookDeliveryProcessor } from './webhook-delivery.processor.js';
import { WebhookEventProcessor } from './webhook-event.processor.js';
import { WebhookJobListener } from './webhook-job.listener.js';
import { WebhookKicks } from './webhook-kicks.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';
import { WebhookOwnerGate } from './webhook-owner-gate.js';
import { WebhookOwnerSlots } from './webhook-owner-slots.js';
import { WebhookSessionListener } from './webhook-session.listener.js';
import { WebhookRedeliveryProcessor } from './webhook-redelivery.processor.js';
import { SweepWebhooksProcessor } from './webhook-sweep.processor.js';
import { WebhookMetrics } from './webhook.metrics.js';
import { WebhooksController } from './webhooks.controller.js';
import { WebhooksRepository } from './webhooks.repository.js';
import { WebhooksService } from './webhooks.service.js';

/** Webhooks: subscriptions, the lanes their changes are delivered down, the delivery job and log. */
@Module({
  imports: [ChangesModule, QueuesModule, RateLimitModule, SessionsModule],
  controllers: [WebhooksController],
  providers: [
    SweepWebhooksProcessor,
    WebhookChangeListener,
    WebhookCoverage,
    WebhookDeliveryProcessor,
    WebhookEventProcessor,
    WebhookJobListener,
    WebhookKicks,
    WebhookLaneDeliverer,
    WebhookMetrics,
    WebhookOwnerGate,
    WebhookOwnerSlots,
    WebhookRedeliveryProcessor,
    WebhookSessionListener,
    WebhooksRepository,
    WebhooksService,
  ],
})
export class WebhooksModule {}
