import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { ChangesService } from '../changes/changes.service.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import type { ChangeEvent } from '../contract/change.js';
import { changeMessageId, eventMessageId, signWebhook } from './webhook-signature.js';
import { COVERAGE_TRUSTED_MS } from './webhook-coverage.js';
import { WebhookKicks } from './webhook-kicks.js';
import { WebhookOwnerGate } from './webhook-owner-gate.js';
import type { OwnerSlot } from './webhook-owner-slots.js';
import { WebhookTransport, type WebhookAttempt } from './webhook-transport.js';
import { WebhookMetrics } from './webhook.metrics.js';
import { WebhooksRepository, type WebhookLane } from './webhooks.repository.js';

type LaneTarget = Pick<WebhookLane, 'webhookId' | 'sessionId' | 'sessionKey' | 'url' | 'secret'>;

/** Changes one job delivers before handing the lane to the next job (jobs stay short). */
const CHANGES_PER_RUN = 100;
/** Deliveries between two cuts of a webhook's delivery log. */
const PRUNE_EVERY = 64;

/**
 * Delivers a lane (one webhook, one session): the session's changes after the lane's
 * `delivered_seq`, read from the change log, one at a time in seq order, by whoever holds the
 * lane's lease. A failed attempt holds the lane back (exponential backoff) so no later change
 * overtakes it; after WEBHOOK_DISABLE_AFTER_MS of failures the webhook is disabled. Every run
 * (of a lane, an event, a redelivery) first takes one of its owner's slots (WebhookOwnerGate): an owner
 * whose slots are all taken has the run parked until one of its runs ends, so a slow receiver
 * holds at most WEBHOOK_OWNER_CONCURRENCY worker slots and delays only its owner's deliveries.
 */
@Injectable()
export class WebhookLaneDeliverer implements OnApplicationShutdown {
  private readonly logger = new Logger(WebhookLaneDeliverer.name);
  private readonly transport: WebhookTransport;
  private attempts = 0;

  constructor(
    private readonly lanes: WebhooksRepository,
    private readonly changes: ChangesService,
    private readonly kicks: WebhookKicks,
    private readonly metrics: WebhookMetrics,
    private readonly gate: WebhookOwnerGate,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.transport = new WebhookTransport({
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      userAgent: 'Tessera-Webhooks/1',
    });
  }

  /** Asks a worker to look at the lane, after `delayMs` (see WebhookKicks.lane). */
  async kick(webhookId: string, sessionId: string, delayMs = 0, tag = 'now'): Promise<void> {
    await this.kicks.lane(webhookId, sessionId, delayMs, tag);
  }

  /** One run: deliver what the lane has, if this worker gets one of its owner's slots and the lane's lease. */
  async run(webhookId: string, sessionId: string, signal: AbortSignal): Promise<{ delivered: number }> {
    return this.gate.run({ lane: { webhookId, sessionId } }, { delivered: 0 }, (slot) => this.runLane(webhookId, sessionId, signal, slot));
  }

  private async runLane(webhookId: string, sessionId: string, signal: AbortSignal, slot: OwnerSlot): Promise<{ delivered: number }> {
    const lane = await this.lanes.lease(webhookId, sessionId, this.leaseEnd());
    if (!lane) {
      // Someone holds it, or its retry is due later: look again then (a dead holder's lease lapses).
      const busyUntil = await this.lanes.busyUntil(webhookId, sessionId);
      if (busyUntil) await this.kick(webhookId, sessionId, Math.max(busyUntil.getTime() - Date.now() + 50, 50), `at${busyUntil.getTime()}`);
      return { delivered: 0 };
    }
    let delivered = 0;
    let more = false;
    let ended: boolean;
    try {
      if (lane.finalSeq !== null) {
        await this.end(lane, lane.finalSeq);
        return { delivered };
      }
      const { items, keptFrom } = await this.changes.logAfter(sessionId, lane.sessionKey, lane.deliveredSeq, CHANGES_PER_RUN);
      if (keptFrom !== undefined) {
        await this.skipExpired(lane, keptFrom);
        more = true;
      }
      for (const change of items) {
        if (signal.aborted) break;
        if (!(await this.deliver(lane, change, slot))) return { delivered };
        delivered++;
      }
      more ||= items.length === CHANGES_PER_RUN;
    } finally {
      ended = await this.lanes.release(webhookId, sessionId);
    }
    // Read again after giving the lease back: a change whose job found the lease held is seen here.
    // Its session was deleted meanwhile: the next run ends the lane and lets `session.deleted` go.
    if (!more) more = ended || (await this.changes.logAfter(sessionId, lane.sessionKey, lane.deliveredSeq, 1)).items.length > 0;
    if (more) await this.kick(webhookId, sessionId);
    // A change committed on an instance that still trusted an older "no webhook here" kicked
    // nothing: a lane that delivered is looked at once more after every such belief has expired.
    else if (delivered > 0) {
      const at = Date.now() + COVERAGE_TRUSTED_MS + 500;
      await this.kick(webhookId, sessionId, COVERAGE_TRUSTED_MS + 500, `settle${Math.floor(at / 1000)}`);
    }
    return { delivered };
  }

  /**
   * Sends a logged attempt's change once more, outside its lane's order (an owner asked for
   * it), with its webhook-id; logged as a further attempt. Gone from the log: logged as failed.
   */
  async redeliver(webhookId: string, deliveryId: string): Promise<{ delivered: boolean }> {
    return this.gate.run({ redelivery: { webhookId, deliveryId } }, { delivered: false }, () => this.resend(webhookId, deliveryId));
  }

  private async resend(webhookId: string, deliveryId: string): Promise<{ delivered: boolean }> {
    const target = await this.lanes.redelivery(webhookId, deliveryId);
    if (!target) return this.redeliverEvent(webhookId, deliveryId);
    const lane = { webhookId, sessionId: target.sessionId, sessionKey: target.sessionKey, url: target.url, secret: target.secret };
    const { items } = await this.changes.logAfter(target.sessionId, target.sessionKey, target.seq - 1, 1);
    const change = items[0]?.seq === target.seq ? items[0] : undefined;
    if (!change) {
      const error = `change ${target.seq} is no longer kept`;
      await this.log(lane, target.eventId, target.seq, target.attempts + 1, {
        delivered: false,
        status: null,
        durationMs: 0,
        excerpt: '',
        error,
      });
      return { delivered: false };
    }
    const result = await this.post(lane, target.eventId, change);
    await this.log(lane, target.eventId, target.seq, target.attempts + 1, result);
    return { delivered: result.delivered };
  }

  /**
   * Sends an event other than a change (`job.*`, `session.deleted`) once more, as it was first
   * sent and with its webhook-id; logged as a further attempt. No longer kept: logged as failed.
   */
  private async redeliverEvent(webhookId: string, deliveryId: string): Promise<{ delivered: boolean }> {
    const target = await this.lanes.eventRedelivery(webhookId, deliveryId);
    if (!target) return { delivered: false };
    const event = { webhookId, sessionId: target.sessionId ?? '' };
    const result =
      target.body === null
        ? { delivered: false, status: null, durationMs: 0, excerpt: '', error: 'the event is no longer kept' }
        : await this.transport.post({
            url: target.url,
            body: target.body,
            headers: signWebhook(target.secret, target.eventId, Math.floor(Date.now() / 1000), target.body),
          });
    await this.log(event, target.eventId, null, target.attempts + 1, result, target.type);
    return { delivered: result.delivered };
  }

  /** One run of a pending job event: sent if this worker gets an owner's slot and the event's lease; on failure held back and retried like a lane. */
  async runEvent(eventId: string): Promise<{ delivered: boolean }> {
    return this.gate.run({ eventId }, { delivered: false }, () => this.sendEvent(eventId));
  }

  private async sendEvent(eventId: string): Promise<{ delivered: boolean }> {
    const event = await this.lanes.leaseEvent(eventId, this.leaseEnd());
    if (!event) {
      // Held back by the lane of its deleted session: that lane, once done, sends it on.
      const lane = await this.lanes.blockingLane(eventId);
      if (lane) {
        await this.kick(lane.webhookId, lane.sessionId, 0, 'ended');
        return { delivered: false };
      }
      const busyUntil = await this.lanes.eventBusyUntil(eventId);
      if (busyUntil) await this.kickEvent(eventId, Math.max(busyUntil.getTime() - Date.now() + 50, 50), `at${busyUntil.getTime()}`);
      return { delivered: false };
    }
    const id = eventMessageId(event.id);
    const result = await this.transport.post({
      url: event.url,
      body: event.body,
      headers: signWebhook(event.secret, id, Math.floor(Date.now() / 1000), event.body),
    });
    const attempt = event.attempt + 1;
    await this.log(event, id, null, attempt, result, event.type);
    if (result.delivered) {
      await this.lanes.eventDelivered(event.id);
      return { delivered: true };
    }
    const failingSince = event.failingSince ?? new Date();
    if (await this.disableIfFailedTooLong(event.webhookId, failingSince, result)) return { delivered: false };
    const delayMs = this.retryDelay(attempt);
    await this.lanes.eventFailed(event.id, attempt, failingSince, new Date(Date.now() + delayMs));
    await this.kickEvent(event.id, delayMs, `retry${attempt}`);
    return { delivered: false };
  }

  async kickEvent(eventId: string, delayMs = 0, tag = 'now'): Promise<void> {
    await this.kicks.event(eventId, delayMs, tag);
  }

  onApplicationShutdown(): void {
    this.transport.close();
  }

  /** One change, signed; true when the receiver took it. */
  private async deliver(lane: WebhookLane, change: ChangeEvent, slot: OwnerSlot): Promise<boolean> {
    await Promise.all([this.lanes.renew(lane.webhookId, lane.sessionId, this.leaseEnd()), this.gate.renew(slot)]);
    // The same id on every attempt of this change for this webhook: receivers deduplicate on it.
    const eventId = changeMessageId(lane.webhookId, lane.sessionId, change.seq);
    const attempt = lane.attempt + 1;
    const result = await this.post(lane, eventId, change);
    await this.log(lane, eventId, change.seq, attempt, result);
    if (result.delivered) {
      await this.lanes.delivered(lane.webhookId, lane.sessionId, change.seq);
      this.metrics.delivered(change.at);
      lane.deliveredSeq = change.seq;
      lane.attempt = 0;
      lane.failingSince = null;
      return true;
    }
    const failingSince = lane.failingSince ?? new Date();
    if (await this.disableIfFailedTooLong(lane.webhookId, failingSince, result)) return false;
    const delayMs = this.retryDelay(attempt);
    await this.lanes.failed(lane.webhookId, lane.sessionId, attempt, failingSince, new Date(Date.now() + delayMs));
    await this.kick(lane.webhookId, lane.sessionId, delayMs, `retry${attempt}at${lane.deliveredSeq}`);
    return false;
  }

  /**
   * A lane or event that has failed for WEBHOOK_DISABLE_AFTER_MS disables its webhook, saying
   * why, if nothing else of that webhook was delivered within that time either. One that still
   * delivers elsewhere stays enabled, and this lane keeps retrying at the longest backoff.
   */
  private async disableIfFailedTooLong(webhookId: string, failingSince: Date, result: WebhookAttempt): Promise<boolean> {
    const windowMs = this.config.WEBHOOK_DISABLE_AFTER_MS;
    if (Date.now() - failingSince.getTime() < windowMs) return false;
    const hours = Math.round(windowMs / 360_000) / 10;
    const disabled = await this.lanes.disableIfNothingDelivered(
      webhookId,
      windowMs,
      `Every delivery failed for ${hours} h (last: ${describe(result)}).`,
    );
    if (disabled) this.metrics.disabled.inc();
    return disabled;
  }

  private retryDelay(attempt: number): number {
    return Math.min(this.config.WEBHOOK_RETRY_BASE_MS * 2 ** Math.min(attempt - 1, 30), this.config.WEBHOOK_RETRY_MAX_MS);
  }

  private post(lane: LaneTarget, eventId: string, change: ChangeEvent): Promise<WebhookAttempt> {
    const body = JSON.stringify({ type: 'change', timestamp: change.at, data: { sessionKey: lane.sessionKey, ...change } });
    return this.transport.post({ url: lane.url, body, headers: signWebhook(lane.secret, eventId, Math.floor(Date.now() / 1000), body) });
  }

  /**
   * The lane of a deleted session, once its holder is done: changes it had not delivered went
   * with the session's log (logged as given up), the lane goes, and the webhook's pending
   * events of that session (its `session.deleted` last of all) are sent.
   */
  private async end(lane: WebhookLane, finalSeq: number): Promise<void> {
    if (lane.deliveredSeq < finalSeq) {
      const error = `changes ${lane.deliveredSeq + 1} to ${finalSeq} went with the deleted session`;
      await this.log(lane, `msg_deleted_${finalSeq}`, null, 0, { delivered: false, status: null, durationMs: 0, excerpt: '', error });
    }
    const events = await this.lanes.endLane(lane.webhookId, lane.sessionId);
    await Promise.all(events.map((id) => this.kickEvent(id, 0, 'ended')));
  }

  private async skipExpired(lane: WebhookLane, keptFrom: number): Promise<void> {
    this.logger.warn(`webhook ${lane.webhookId}: changes ${lane.deliveredSeq + 1}..${keptFrom - 1} of a session left the log undelivered`);
    const error = `changes ${lane.deliveredSeq + 1} to ${keptFrom - 1} are no longer kept`;
    await this.log(lane, `msg_expired_${keptFrom}`, null, 0, { delivered: false, status: null, durationMs: 0, excerpt: '', error });
    await this.lanes.skipTo(lane.webhookId, lane.sessionId, keptFrom - 1);
    lane.deliveredSeq = keptFrom - 1;
  }

  private async log(
    lane: Pick<LaneTarget, 'webhookId' | 'sessionId'>,
    eventId: string,
    seq: number | null,
    attempt: number,
    result: WebhookAttempt,
    event = 'change',
  ): Promise<void> {
    this.metrics.observe(result);
    // The log says what happened; it never decides it: a log write that fails (the database
    // refused a value, a hiccup) must not undo a delivery the receiver already took.
    try {
      await this.lanes.logAttempt(
        {
          id: randomUUID(),
          webhookId: lane.webhookId,
          eventId,
          event,
          sessionId: lane.sessionId,
          seq: seq === null ? null : BigInt(seq),
          attempt,
          status: result.delivered ? 'delivered' : 'failed',
          responseStatus: result.status,
          error: result.error?.replaceAll('\u0000', '') ?? null,
          responseExcerpt: result.excerpt.replaceAll('\u0000', '') || null,
          durationMs: result.durationMs,
        },
        ++this.attempts % PRUNE_EVERY === 0,
      );
    } catch (error) {
      this.logger.warn(`webhook ${lane.webhookId}: logging attempt ${attempt} of ${eventId} failed: ${(error as Error).message}`);
    }
  }

  /** Longer than one attempt can take, so a live holder never loses it; a dead one's lapses soon. */
  private leaseEnd(): Date {
    return new Date(Date.now() + this.config.WEBHOOK_TIMEOUT_MS * 2 + 5000);
  }
}

const describe = (result: WebhookAttempt) => (result.status !== null ? `HTTP ${result.status}` : (result.error ?? 'no answer'));
