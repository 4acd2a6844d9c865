import { Injectable } from '@nestjs/common';
import { WebhookKicks } from './webhook-kicks.js';
import { WebhookOwnerSlots, type OwnerSlot } from './webhook-owner-slots.js';
import { WebhookMetrics } from './webhook.metrics.js';
import { WebhooksRepository } from './webhooks.repository.js';

/** Webhook owners remembered (a webhook's owner never changes). */
const OWNERS_KEPT = 10_000;

/** What a run is of: a lane, a job event, or a redelivery an owner asked for. */
export type GatedRun =
  { lane: { webhookId: string; sessionId: string } } | { eventId: string } | { redelivery: { webhookId: string; deliveryId: string } };

/**
 * Every webhook run (a lane's, an event's, a redelivery's) goes through one of its owner's
 * WEBHOOK_OWNER_CONCURRENCY slots (WebhookOwnerSlots). An owner whose slots are all taken has
 * the run parked: its job ends at once, without a timer, and a slot given back wakes the oldest
 * parked run of that owner. So a slow receiver holds at most that many worker slots and
 * delays only its owner's deliveries.
 */
@Injectable()
export class WebhookOwnerGate {
  private readonly owners = new Map<string, string | null>();

  constructor(
    private readonly repository: WebhooksRepository,
    private readonly slots: WebhookOwnerSlots,
    private readonly kicks: WebhookKicks,
    private readonly metrics: WebhookMetrics,
  ) {}

  /** `work` in one of the owner's slots; `idle` when its webhook or event is gone, or the run was parked. */
  async run<T>(what: GatedRun, idle: T, work: (slot: OwnerSlot) => Promise<T>): Promise<T> {
    const owner = 'eventId' in what ? await this.repository.eventOwner(what.eventId) : await this.ownerOf(webhookOf(what));
    if (owner === undefined) return idle;
    const slot = await this.slots.take(owner, waiterOf(what));
    if (!slot) {
      this.metrics.parked.inc();
      return idle;
    }
    try {
      return await work(slot);
    } finally {
      await this.kicks.wake(await this.slots.give(slot));
    }
  }

  /** The holder keeps its slot for another stretch (with its lease, before each attempt). */
  renew(slot: OwnerSlot): Promise<void> {
    return this.slots.renew(slot);
  }

  /** Kicks the parked runs of owners with free slots (those of a killed worker lapse); how many. */
  async wakeParked(): Promise<number> {
    const woken = await this.slots.wakeParked();
    await this.kicks.wake(woken);
    return woken.length;
  }

  private async ownerOf(webhookId: string): Promise<string | null | undefined> {
    if (this.owners.has(webhookId)) return this.owners.get(webhookId);
    const owner = await this.repository.ownerOf(webhookId);
    if (owner === undefined) return undefined;
    if (this.owners.size >= OWNERS_KEPT) this.owners.clear();
    this.owners.set(webhookId, owner);
    return owner;
  }
}

const webhookOf = (what: Exclude<GatedRun, { eventId: string }>) => ('lane' in what ? what.lane.webhookId : what.redelivery.webhookId);

/** How a parked run is named in its owner's parked set (WebhookKicks.wake reads it back). */
const waiterOf = (what: GatedRun): string =>
  'eventId' in what
    ? `event:${what.eventId}`
    : 'lane' in what
      ? `lane:${what.lane.webhookId}:${what.lane.sessionId}`
      : `redeliver:${what.redelivery.webhookId}:${what.redelivery.deliveryId}`;
