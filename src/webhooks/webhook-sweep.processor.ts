import { Injectable } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';
import { JobName } from '../queues/queue.names.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';
import { WebhookOwnerGate } from './webhook-owner-gate.js';
import { WebhooksRepository } from './webhooks.repository.js';

/** Lanes looked at per sweep; a longer backlog is taken up by the next ones. */
const SWEEP_LIMIT = 1000;

/**
 * Every WEBHOOK_SWEEP_SECONDS (a minute; 0: never): lanes behind their session that no job will look at (their kick was lost to a
 * process that died after a commit, or to Redis losing queued jobs) are kicked again, so a
 * change waiting in the log is delivered without waiting for the session's next change. Runs
 * parked behind their owner's slots are woken as far as the owner has slots free (a killed
 * worker's slot lapses), so a parked run never waits for a wake-up that will not come.
 */
@Injectable()
@JobProcessor()
export class SweepWebhooksProcessor implements JobHandler<typeof JobName.SweepWebhooks> {
  readonly job = JobName.SweepWebhooks;
  readonly schedule: { everyMs: number } | null;

  constructor(
    private readonly lanes: WebhooksRepository,
    private readonly deliverer: WebhookLaneDeliverer,
    private readonly gate: WebhookOwnerGate,
    @InjectConfig() config: AppConfig,
  ) {
    this.schedule = config.WEBHOOK_SWEEP_SECONDS > 0 ? { everyMs: config.WEBHOOK_SWEEP_SECONDS * 1000 } : null;
  }

  async handle(): Promise<{ kicked: number }> {
    const stranded = await this.lanes.stranded(SWEEP_LIMIT);
    for (const { webhookId, sessionId } of stranded) await this.deliverer.kick(webhookId, sessionId, 0, 'sweep');
    const events = await this.lanes.strandedEvents(SWEEP_LIMIT);
    for (const id of events) await this.deliverer.kickEvent(id, 0, 'sweep');
    const woken = await this.gate.wakeParked();
    return { kicked: stranded.length + events.length + woken };
  }
}
