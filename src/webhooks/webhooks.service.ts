import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { derivedUuid } from '../common/ids.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../common/pagination.js';
import type { Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import type { WebhookDelivery } from '../generated/prisma/client.js';
import { JobQueue } from '../queues/job-queue.js';
import { JobName } from '../queues/queue.names.js';
import { may } from '../sessions/session-access.js';
import { SessionAccess } from '../sessions/session-access.service.js';
import type { CreateWebhookBody, UpdateWebhookBody } from './dto/webhooks.dto.js';
import { ForbiddenWebhookTarget, parseWebhookUrl, resolveWebhookHost } from './webhook-address.guard.js';
import { WebhookCoverage } from './webhook-coverage.js';
import { WebhookLaneDeliverer } from './webhook-lane.deliverer.js';
import { changeMessageId, eventMessageId, newWebhookSecret } from './webhook-signature.js';
import { WebhooksRepository, type PendingDelivery, type WebhookScope, type WebhookWithKey } from './webhooks.repository.js';

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  sessionKey: string | null;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface DeliveryView {
  id: string;
  eventId: string;
  event: string;
  seq: number | null;
  attempt: number;
  status: 'delivered' | 'failed' | 'pending';
  responseStatus: number | null;
  error: string | null;
  responseExcerpt: string | null;
  durationMs: number;
  at: string;
}

/** Webhooks of signed-in users (on sessions they own) and operators (on any session). */
@Injectable()
export class WebhooksService {
  constructor(
    private readonly webhooks: WebhooksRepository,
    private readonly access: SessionAccess,
    private readonly deliverer: WebhookLaneDeliverer,
    private readonly queue: JobQueue,
    private readonly coverage: WebhookCoverage,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** 201 with the secret, which no other answer shows. */
  async create(principal: Principal, body: CreateWebhookBody): Promise<WebhookView & { secret: string }> {
    const ownerId = ownerOf(principal);
    let sessionId: string | null = null;
    if (body.sessionKey !== undefined && body.sessionKey !== null) {
      // Only a session the caller may own; one they may merely read looks like none, so keys cannot be probed here.
      const ref = await this.access.require(principal, body.sessionKey, 'read');
      if (!may(ref.head, principal, 'own')) throw new AppError('SESSION_NOT_FOUND');
      sessionId = ref.id;
    }
    const url = await this.checkedUrl(body.url);
    if (ownerId !== null && (await this.webhooks.countOwnedBy(ownerId)) >= this.config.WEBHOOK_MAX_PER_USER) {
      throw new AppError('WEBHOOK_LIMIT_REACHED');
    }
    const secret = newWebhookSecret();
    const created = await this.webhooks.create({ id: randomUUID(), ownerId, sessionId, url, events: [...body.events], secret });
    this.coverage.forget();
    return { ...toView(created), secret };
  }

  async list(principal: Principal, limit: number, cursor?: string): Promise<Page<WebhookView>> {
    const rows = await this.webhooks.list(scopeOf(principal), limit, cursor === undefined ? undefined : decodeCursor(cursor));
    return toPage(rows, limit, toView, (row) => encodeCursor(row));
  }

  async get(principal: Principal, id: string): Promise<WebhookView> {
    return toView(await this.found(principal, id));
  }

  async update(principal: Principal, id: string, body: UpdateWebhookBody): Promise<WebhookView> {
    const url = body.url === undefined ? undefined : await this.checkedUrl(body.url);
    const updated = await this.webhooks.update(scopeOf(principal), id, {
      ...(url !== undefined && { url }),
      ...(body.events && { events: [...body.events] }),
      ...(body.enabled !== undefined && { enabled: body.enabled }),
    });
    if (!updated) throw new AppError('WEBHOOK_NOT_FOUND');
    this.coverage.forget();
    // Re-enabled: what waited meanwhile goes out now, not with the next change.
    if (body.enabled === true) {
      const tag = `enabled${Date.now()}`;
      for (const sessionId of await this.webhooks.laneSessions(id)) await this.deliverer.kick(id, sessionId, 0, tag);
      // Events beyond these are taken up by the sweep.
      for (const eventId of await this.webhooks.pendingEvents(id, 1000)) await this.deliverer.kickEvent(eventId, 0, tag);
    }
    return toView(updated);
  }

  async delete(principal: Principal, id: string): Promise<void> {
    if (!(await this.webhooks.delete(scopeOf(principal), id))) throw new AppError('WEBHOOK_NOT_FOUND');
  }

  /**
   * The delivery log, newest first. The first page (no cursor) opens with what is still to be
   * delivered (`pending`: a lane's next change, an event waiting or being retried), read from
   * the lanes and the outbox when asked, so delivery itself writes nothing more; then the
   * logged attempts fill the page.
   */
  async deliveries(principal: Principal, id: string, limit: number, cursor?: string): Promise<Page<DeliveryView>> {
    await this.found(principal, id);
    const pending = cursor === undefined ? (await this.webhooks.pendingDeliveries(id, limit)).map((p) => toPendingView(id, p)) : [];
    const room = limit - pending.length;
    if (room === 0) return { items: pending, nextCursor: encodeCursor(TOP_OF_LOG) };
    const rows = await this.webhooks.deliveries(id, room, cursor === undefined ? undefined : decodeCursor(cursor));
    const page = toPage(rows, room, toDeliveryView, (row) => encodeCursor({ createdAt: row.at, id: row.id }));
    return { items: [...pending, ...page.items], nextCursor: page.nextCursor };
  }

  /**
   * Queues the attempt's event to be sent once more (202): a change must still be in the change
   * log when it runs; any other event (`job.*`, `session.deleted`) is sent as it was kept.
   */
  async redeliver(principal: Principal, id: string, deliveryId: string): Promise<{ deliveryId: string; eventId: string }> {
    await this.found(principal, id);
    const delivery = await this.webhooks.findDelivery(id, deliveryId);
    if (!delivery) throw new AppError('DELIVERY_NOT_FOUND');
    if (delivery.event === 'change' && delivery.seq === null) {
      throw new AppError('CHANGES_EXPIRED', 'This attempt names no change that is still kept.');
    }
    await this.queue.queueInternal(JobName.RedeliverWebhook, { webhookId: id, deliveryId }, { removeOnComplete: true, removeOnFail: true });
    return { deliveryId, eventId: delivery.eventId };
  }

  private async found(principal: Principal, id: string): Promise<WebhookWithKey> {
    const webhook = await this.webhooks.find(scopeOf(principal), id);
    if (!webhook) throw new AppError('WEBHOOK_NOT_FOUND');
    return webhook;
  }

  /** The URL as it will be called, refused unless http(s) and (without WEBHOOK_ALLOW_PRIVATE) public. */
  private async checkedUrl(text: string): Promise<string> {
    try {
      const url = parseWebhookUrl(text);
      await resolveWebhookHost(url.hostname, this.config.WEBHOOK_ALLOW_PRIVATE);
      return url.toString();
    } catch (error) {
      if (error instanceof ForbiddenWebhookTarget) throw new AppError('WEBHOOK_URL_FORBIDDEN', `The webhook URL ${error.reason}.`);
      throw error;
    }
  }
}

/** The owner a new webhook gets: the user, or none for an operator's. Anonymous callers hold none. */
function ownerOf(principal: Principal): string | null {
  if (principal.kind === 'anonymous') throw new AppError('AUTH_REQUIRED');
  return principal.kind === 'user' ? principal.userId : null;
}

function scopeOf(principal: Principal): WebhookScope {
  if (principal.kind === 'anonymous') throw new AppError('AUTH_REQUIRED');
  return principal.kind === 'user' ? { ownerId: principal.userId } : 'all';
}

function toView(row: WebhookWithKey): WebhookView {
  return {
    id: row.id,
    url: row.url,
    events: row.events,
    sessionKey: row.session?.key ?? row.deletedSessionKey,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** A cursor before every logged attempt: the page after one filled with pending entries. */
const TOP_OF_LOG = { createdAt: new Date('9999-12-31T23:59:59.999Z'), id: 'ffffffff-ffff-8fff-bfff-ffffffffffff' };

function toPendingView(webhookId: string, pending: PendingDelivery): DeliveryView {
  const eventId =
    pending.eventRowId === null ? changeMessageId(webhookId, pending.sessionId, pending.seq ?? 0) : eventMessageId(pending.eventRowId);
  return {
    id: derivedUuid('webhook-pending', eventId, String(pending.attempt)),
    eventId,
    event: pending.event,
    seq: pending.seq,
    attempt: pending.attempt,
    status: 'pending',
    responseStatus: null,
    error: null,
    responseExcerpt: null,
    durationMs: 0,
    at: (pending.nextAttemptAt ?? new Date()).toISOString(),
  };
}

function toDeliveryView(row: WebhookDelivery): DeliveryView {
  return {
    id: row.id,
    eventId: row.eventId,
    event: row.event,
    seq: row.seq === null ? null : Number(row.seq),
    attempt: row.attempt,
    status: row.status as DeliveryView['status'],
    responseStatus: row.responseStatus,
    error: row.error,
    responseExcerpt: row.responseExcerpt,
    durationMs: row.durationMs,
    at: row.at.toISOString(),
  };
}
