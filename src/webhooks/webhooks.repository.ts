import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import type { ListCursor } from '../common/pagination.js';
import { Prisma, type Webhook, type WebhookDelivery } from '../generated/prisma/client.js';
import { accessSql } from '../sessions/session-access.js';

/** Whose webhooks a query sees: one user's, or every one (an operator). */
export type WebhookScope = { ownerId: string } | 'all';

export interface WebhookLane {
  webhookId: string;
  sessionId: string;
  sessionKey: string;
  url: string;
  secret: string;
  deliveredSeq: number;
  attempt: number;
  failingSince: Date | null;
  /** Set once the session is deleted: its last seq, after which the lane ends and `session.deleted` follows. */
  finalSeq: number | null;
}

export interface PendingEvent {
  id: string;
  webhookId: string;
  sessionId: string;
  type: string;
  body: string;
  attempt: number;
  failingSince: Date | null;
  url: string;
  secret: string;
}

/** Something a webhook has yet to deliver: a lane's next change, or a kept event. */
export interface PendingDelivery {
  /** The event's own id, or null for a change (its id derives from webhook, session and seq). */
  eventRowId: string | null;
  event: string;
  sessionId: string;
  seq: number | null;
  /** The attempt that comes next (1: none yet). */
  attempt: number;
  /** When that attempt is due: null when it is due now. */
  nextAttemptAt: Date | null;
}

export interface Redelivery {
  url: string;
  secret: string;
  sessionId: string;
  sessionKey: string;
  seq: number;
  eventId: string;
  attempts: number;
}

export interface EventRedelivery {
  url: string;
  secret: string;
  sessionId: string | null;
  eventId: string;
  type: string;
  body: string | null;
  attempts: number;
}

/** Deliveries kept per webhook: the log is for looking at recent attempts, not an archive. */
const DELIVERIES_KEPT = 1000;

/**
 * The one access rule, asked for a webhook's owner (`w`) about the session `alias`: may they
 * own it? An operator's webhook (no owner) may. Ownership passed on: the former owner's
 * webhooks no longer see the session.
 */
const ownerMayOwn = (alias = 's') => accessSql('own', { userId: Prisma.sql`w.owner_id`, admin: Prisma.sql`(w.owner_id IS NULL)` }, alias);

/** A pending event (`e`) of webhook `w` may go out: its session is gone (`session.deleted`), or the webhook's owner may still own it. */
const eventReachable = () => Prisma.sql`(NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = e.session_id)
  OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = e.session_id AND ${ownerMayOwn()}))`;

const scoped = (scope: WebhookScope) => (scope === 'all' ? {} : { ownerId: scope.ownerId });

@Injectable()
export class WebhooksRepository {
  constructor(private readonly db: TransactionHost) {}

  create(data: Pick<Webhook, 'id' | 'ownerId' | 'sessionId' | 'url' | 'events' | 'secret'>): Promise<WebhookWithKey> {
    return this.db.client.webhook.create({ data, include: withKey });
  }

  countOwnedBy(ownerId: string): Promise<number> {
    return this.db.client.webhook.count({ where: { ownerId } });
  }

  find(scope: WebhookScope, id: string): Promise<WebhookWithKey | null> {
    return this.db.client.webhook.findFirst({ where: { id, ...scoped(scope) }, include: withKey });
  }

  /** Newest first, `limit + 1` rows from after `cursor`. */
  list(scope: WebhookScope, limit: number, cursor?: ListCursor): Promise<WebhookWithKey[]> {
    const after = cursor ? { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] } : {};
    return this.db.client.webhook.findMany({
      where: { ...scoped(scope), ...after },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      include: withKey,
    });
  }

  /** Re-enabling clears the reason and lets failing lanes try again at once. */
  async update(
    scope: WebhookScope,
    id: string,
    data: Partial<Pick<Webhook, 'url' | 'events' | 'enabled'>>,
  ): Promise<WebhookWithKey | null> {
    const changed = await this.db.client.webhook.updateMany({
      where: { id, ...scoped(scope) },
      data: { ...data, ...(data.enabled === true && { disabledReason: null }), updatedAt: new Date() },
    });
    if (changed.count === 0) return null;
    if (data.enabled === true) {
      const retryNow = { attempt: 0, failingSince: null, nextAttemptAt: null };
      await this.db.client.webhookLane.updateMany({ where: { webhookId: id }, data: retryNow });
      await this.db.client.webhookEvent.updateMany({ where: { webhookId: id }, data: retryNow });
    }
    return this.find(scope, id);
  }

  /** Seconds since the longest-failing lane or pending event of an enabled webhook started failing; 0 when none fails. */
  async oldestFailingSeconds(): Promise<number> {
    const [row] = await this.db.client.$queryRaw<Array<{ seconds: number | null }>>`
      SELECT extract(epoch FROM now() - least(
        (SELECT min(l.failing_since) FROM webhook_lanes l JOIN webhooks w ON w.id = l.webhook_id
         WHERE w.enabled AND l.failing_since IS NOT NULL),
        (SELECT min(e.failing_since) FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
         WHERE w.enabled AND e.delivered_at IS NULL AND e.failing_since IS NOT NULL)))::float8 AS seconds`;
    return row?.seconds ?? 0;
  }

  /**
   * Seconds since the oldest change or event that an enabled webhook has yet to deliver was
   * made (a lane's next change, by its commit time; a pending event, by when it was kept), for
   * those not tried yet or last taken (`waiting`) and those held back after a failed attempt
   * (`retrying`); 0 when none.
   */
  async oldestPendingSeconds(): Promise<{ waiting: number; retrying: number }> {
    const rows = await this.db.client.$queryRaw<Array<{ retrying: boolean; seconds: number | null }>>`
      SELECT retrying, extract(epoch FROM now() - min(since))::float8 AS seconds FROM (
        SELECT l.failing_since IS NOT NULL AS retrying,
               (SELECT c.at FROM changes c WHERE c.session_id = l.session_id AND c.seq = l.delivered_seq + 1) AS since
        FROM webhook_lanes l JOIN webhooks w ON w.id = l.webhook_id JOIN sessions s ON s.id = l.session_id
        WHERE w.enabled AND l.final_seq IS NULL AND s.seq > l.delivered_seq AND ${ownerMayOwn()}
        UNION ALL
        SELECT e.failing_since IS NOT NULL, e.created_at
        FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
        WHERE w.enabled AND e.delivered_at IS NULL AND ${eventReachable()}
      ) pending GROUP BY retrying`;
    const of = (retrying: boolean) => Math.max(rows.find((row) => row.retrying === retrying)?.seconds ?? 0, 0);
    return { waiting: of(false), retrying: of(true) };
  }

  /** A logged attempt of this webhook, or null. */
  findDelivery(webhookId: string, id: string): Promise<WebhookDelivery | null> {
    return this.db.client.webhookDelivery.findFirst({ where: { id, webhookId } });
  }

  /** What a redelivery of an attempt needs: where to, the secret, the session's key, how many attempts its event had. */
  async redelivery(webhookId: string, deliveryId: string): Promise<Redelivery | null> {
    const rows = await this.db.client.$queryRaw<
      Array<{ url: string; secret: string; session_id: string; session_key: string; seq: bigint; event_id: string; attempts: number }>
    >`
      SELECT w.url, w.secret, d.session_id, s.key AS session_key, d.seq, d.event_id,
             (SELECT count(*)::int FROM webhook_deliveries e WHERE e.webhook_id = w.id AND e.event_id = d.event_id) AS attempts
      FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN sessions s ON s.id = d.session_id
      WHERE d.id = ${deliveryId}::uuid AND d.webhook_id = ${webhookId}::uuid AND d.seq IS NOT NULL`;
    const [row] = rows;
    return row
      ? {
          url: row.url,
          secret: row.secret,
          sessionId: row.session_id,
          sessionKey: row.session_key,
          seq: Number(row.seq),
          eventId: row.event_id,
          attempts: row.attempts,
        }
      : null;
  }

  /**
   * What a redelivery of an attempt at an event other than a change needs: the event as it was
   * first sent (null when it is no longer kept), and how many attempts it had.
   */
  async eventRedelivery(webhookId: string, deliveryId: string): Promise<EventRedelivery | null> {
    const rows = await this.db.client.$queryRaw<
      Array<{
        url: string;
        secret: string;
        session_id: string | null;
        event_id: string;
        event: string;
        body: string | null;
        attempts: number;
      }>
    >`
      SELECT w.url, w.secret, d.session_id, d.event_id, d.event,
             (SELECT e.body FROM webhook_events e
              WHERE e.webhook_id = w.id AND 'msg_' || replace(e.id::text, '-', '') = d.event_id) AS body,
             (SELECT count(*)::int FROM webhook_deliveries x WHERE x.webhook_id = w.id AND x.event_id = d.event_id) AS attempts
      FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
      WHERE d.id = ${deliveryId}::uuid AND d.webhook_id = ${webhookId}::uuid AND d.event <> 'change'`;
    const [row] = rows;
    return row
      ? {
          url: row.url,
          secret: row.secret,
          sessionId: row.session_id,
          eventId: row.event_id,
          type: row.event,
          body: row.body,
          attempts: row.attempts,
        }
      : null;
  }

  /**
   * Lanes of enabled webhooks that are behind their session (or whose session was deleted) and that nobody holds or holds
   * back: their kick was lost (a process died between a commit and its kick, or Redis lost
   * the queued jobs). At most `limit`.
   */
  async stranded(limit: number): Promise<Array<{ webhookId: string; sessionId: string }>> {
    const rows = await this.db.client.$queryRaw<Array<{ webhook_id: string; session_id: string }>>`
      SELECT l.webhook_id, l.session_id
      FROM webhook_lanes l JOIN webhooks w ON w.id = l.webhook_id LEFT JOIN sessions s ON s.id = l.session_id
      WHERE w.enabled AND (l.final_seq IS NOT NULL OR (s.seq > l.delivered_seq AND ${ownerMayOwn()}))
        AND (l.leased_until IS NULL OR l.leased_until < now())
        AND (l.next_attempt_at IS NULL OR l.next_attempt_at < now() - interval '1 minute')
      LIMIT ${limit}`;
    return rows.map((row) => ({ webhookId: row.webhook_id, sessionId: row.session_id }));
  }

  /**
   * Keeps a job event for every enabled webhook of `type` on the session (by its id; by its key
   * only for a job that carries none) whose owner may own it; their ids.
   */
  async recordEvent(session: { id?: string; key: string }, type: string, body: string): Promise<string[]> {
    const which = session.id === undefined ? Prisma.sql`s.key = ${session.key}` : Prisma.sql`s.id = ${session.id}::uuid`;
    const rows = await this.db.client.$queryRaw<Array<{ id: string }>>`
      INSERT INTO webhook_events (id, webhook_id, session_id, type, body)
      SELECT gen_random_uuid(), w.id, s.id, ${type}, ${body}
      FROM sessions s JOIN webhooks w ON w.session_id = s.id OR (w.session_id IS NULL AND w.deleted_session_key IS NULL)
      WHERE ${which} AND w.enabled AND ${type} = ANY (w.events) AND ${ownerMayOwn()}
      RETURNING id`;
    return rows.map((row) => row.id);
  }

  /**
   * Takes a pending event's lease, as `lease` does a lane's; null when it is not due, held,
   * delivered or its webhook disabled, or while a lane of its deleted session is not done yet
   * (see `blockingLane`: nothing of a session goes out after its `session.deleted`).
   */
  async leaseEvent(id: string, until: Date): Promise<PendingEvent | null> {
    const rows = await this.db.client.$queryRaw<
      Array<{
        webhook_id: string;
        session_id: string;
        type: string;
        body: string;
        attempt: number;
        failing_since: Date | null;
        url: string;
        secret: string;
      }>
    >`
      UPDATE webhook_events e SET leased_until = ${until}
      FROM webhooks w
      WHERE e.id = ${id}::uuid AND w.id = e.webhook_id AND w.enabled AND e.delivered_at IS NULL
        AND (e.leased_until IS NULL OR e.leased_until < now())
        AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= now())
        AND ${eventReachable()}
        AND NOT EXISTS (SELECT 1 FROM webhook_lanes l
                        WHERE l.webhook_id = e.webhook_id AND l.session_id = e.session_id AND l.final_seq IS NOT NULL)
      RETURNING e.webhook_id, e.session_id, e.type, e.body, e.attempt, e.failing_since, w.url, w.secret`;
    const [row] = rows;
    return row
      ? {
          id,
          webhookId: row.webhook_id,
          sessionId: row.session_id,
          type: row.type,
          body: row.body,
          attempt: row.attempt,
          failingSince: row.failing_since,
          url: row.url,
          secret: row.secret,
        }
      : null;
  }

  /** The lane of a deleted session that holds this pending event back, if any. */
  async blockingLane(eventId: string): Promise<{ webhookId: string; sessionId: string } | null> {
    const rows = await this.db.client.$queryRaw<Array<{ webhook_id: string; session_id: string }>>`
      SELECT l.webhook_id, l.session_id FROM webhook_events e
      JOIN webhook_lanes l ON l.webhook_id = e.webhook_id AND l.session_id = e.session_id
      WHERE e.id = ${eventId}::uuid AND e.delivered_at IS NULL AND l.final_seq IS NOT NULL`;
    const [row] = rows;
    return row ? { webhookId: row.webhook_id, sessionId: row.session_id } : null;
  }

  /** The pending `session.deleted` events of the session just deleted under `key`. */
  async pendingSessionDeleted(key: string): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<Array<{ id: string }>>`
      SELECT id FROM webhook_events
      WHERE delivered_at IS NULL AND type = 'session.deleted' AND body::jsonb -> 'data' ->> 'sessionKey' = ${key}`;
    return rows.map((row) => row.id);
  }

  /**
   * The lane of a deleted session is done (its holder delivered what it had): it goes, and the
   * ids of its webhook's pending events of that session (`session.deleted` among them) are returned.
   */
  async endLane(webhookId: string, sessionId: string): Promise<string[]> {
    await this.db.client.webhookLane.deleteMany({ where: { webhookId, sessionId, finalSeq: { not: null } } });
    const events = await this.db.client.webhookEvent.findMany({
      where: { webhookId, sessionId, deliveredAt: null },
      select: { id: true },
    });
    return events.map((event) => event.id);
  }

  async eventBusyUntil(id: string): Promise<Date | null> {
    const event = await this.db.client.webhookEvent.findUnique({
      where: { id },
      select: { leasedUntil: true, nextAttemptAt: true, deliveredAt: true },
    });
    if (!event || event.deliveredAt) return null;
    const times = [event.leasedUntil, event.nextAttemptAt].filter((t): t is Date => t !== null && t.getTime() > Date.now());
    return times.length ? new Date(Math.max(...times.map((t) => t.getTime()))) : null;
  }

  /**
   * Delivered: the event leaves the outbox but stays kept, for redelivery on request, as long
   * as the webhook's delivery log keeps its attempts. A webhook for one session that was
   * waiting only for that session's `session.deleted` has ended: it goes.
   */
  async eventDelivered(id: string): Promise<void> {
    const [event] = await this.db.client.$queryRaw<Array<{ webhook_id: string; type: string }>>`
      UPDATE webhook_events SET delivered_at = now(), leased_until = NULL, next_attempt_at = NULL
      WHERE id = ${id}::uuid RETURNING webhook_id, type`;
    if (event) await this.markDelivered(event.webhook_id);
    if (event?.type === 'session.deleted') {
      await this.db.client.webhook.deleteMany({ where: { id: event.webhook_id, deletedSessionKey: { not: null } } });
    }
  }

  async eventFailed(id: string, attempt: number, failingSince: Date, retryAt: Date): Promise<void> {
    await this.db.client.webhookEvent.updateMany({
      where: { id },
      data: { attempt, failingSince, nextAttemptAt: retryAt, leasedUntil: null },
    });
  }

  /** Pending events of enabled webhooks that no job holds or holds back, older than a minute (their kick was lost). */
  async strandedEvents(limit: number): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<Array<{ id: string }>>`
      SELECT e.id FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
      WHERE e.delivered_at IS NULL AND w.enabled AND e.created_at < now() - interval '1 minute' AND ${eventReachable()}
        AND (e.leased_until IS NULL OR e.leased_until < now())
        AND (e.next_attempt_at IS NULL OR e.next_attempt_at < now() - interval '1 minute')
      LIMIT ${limit}`;
    return rows.map((row) => row.id);
  }

  /** The ids of a webhook's events not yet delivered (at most `limit`). */
  async pendingEvents(webhookId: string, limit: number): Promise<string[]> {
    const events = await this.db.client.webhookEvent.findMany({
      where: { webhookId, deliveredAt: null },
      select: { id: true },
      take: limit,
    });
    return events.map((event) => event.id);
  }

  /** The sessions a webhook has lanes in. */
  async laneSessions(webhookId: string): Promise<string[]> {
    const lanes = await this.db.client.webhookLane.findMany({ where: { webhookId }, select: { sessionId: true } });
    return lanes.map((lane) => lane.sessionId);
  }

  async delete(scope: WebhookScope, id: string): Promise<boolean> {
    return (await this.db.client.webhook.deleteMany({ where: { id, ...scoped(scope) } })).count > 0;
  }

  /**
   * The webhooks whose lanes of this session have not delivered `seq` yet. Lanes are opened by
   * the change itself (a trigger on `changes`, in its transaction): one per enabled webhook of
   * `change` on the session, on every session of its owner, or an operator's on every session.
   */
  async lanesBehind(sessionId: string, seq: number): Promise<string[]> {
    const rows = await this.db.client.$queryRaw<Array<{ webhook_id: string }>>`
      SELECT l.webhook_id FROM webhook_lanes l JOIN webhooks w ON w.id = l.webhook_id
      WHERE l.session_id = ${sessionId}::uuid AND l.delivered_seq < ${seq} AND l.final_seq IS NULL AND w.enabled`;
    return rows.map((row) => row.webhook_id);
  }

  /** Whether an enabled webhook of `change` may cover a session of this owner (its own, or an operator's). */
  async anyCovering(ownerId: string | null): Promise<boolean> {
    const [row] = await this.db.client.$queryRaw<Array<{ covered: boolean }>>`
      SELECT EXISTS (
        SELECT 1 FROM webhooks
        WHERE enabled AND 'change' = ANY (events) AND deleted_session_key IS NULL
          AND (owner_id IS NULL OR owner_id = ${ownerId}::uuid)
      ) AS covered`;
    return row?.covered ?? false;
  }

  /**
   * Takes the lane's lease until `until` if nobody holds it and its retry is due; null when
   * someone else delivers it, it waits for a retry, its webhook is disabled, or its session's
   * owner is no longer the webhook's (ownership passed on).
   */
  async lease(webhookId: string, sessionId: string, until: Date): Promise<WebhookLane | null> {
    const rows = await this.db.client.$queryRaw<
      Array<{
        session_key: string | null;
        url: string;
        secret: string;
        delivered_seq: bigint;
        attempt: number;
        failing_since: Date | null;
        final_seq: bigint | null;
      }>
    >`
      UPDATE webhook_lanes l SET leased_until = ${until}
      FROM webhooks w
      WHERE l.webhook_id = ${webhookId}::uuid AND l.session_id = ${sessionId}::uuid AND w.id = l.webhook_id AND w.enabled
        AND (l.final_seq IS NOT NULL OR EXISTS (SELECT 1 FROM sessions s WHERE s.id = l.session_id AND ${ownerMayOwn()}))
        AND (l.leased_until IS NULL OR l.leased_until < now())
        AND (l.next_attempt_at IS NULL OR l.next_attempt_at <= now())
      RETURNING (SELECT key FROM sessions WHERE id = l.session_id) AS session_key, w.url, w.secret, l.delivered_seq, l.attempt,
                l.failing_since, l.final_seq`;
    const [row] = rows;
    if (!row || (row.session_key === null && row.final_seq === null)) return null;
    return {
      webhookId,
      sessionId,
      sessionKey: row.session_key ?? '',
      url: row.url,
      secret: row.secret,
      deliveredSeq: Number(row.delivered_seq),
      attempt: row.attempt,
      failingSince: row.failing_since,
      finalSeq: row.final_seq === null ? null : Number(row.final_seq),
    };
  }

  /** The owner of a webhook (null: an operator's); undefined when it is gone. */
  async ownerOf(webhookId: string): Promise<string | null | undefined> {
    const webhook = await this.db.client.webhook.findUnique({ where: { id: webhookId }, select: { ownerId: true } });
    return webhook ? webhook.ownerId : undefined;
  }

  /** The owner of a pending event's webhook (null: an operator's); undefined when the event is gone. */
  async eventOwner(eventId: string): Promise<string | null | undefined> {
    const event = await this.db.client.webhookEvent.findUnique({
      where: { id: eventId },
      select: { webhook: { select: { ownerId: true } } },
    });
    return event ? event.webhook.ownerId : undefined;
  }

  /** When the lane's lease ends, or its retry is due: when another delivery job should look at it (null: free now). */
  async busyUntil(webhookId: string, sessionId: string): Promise<Date | null> {
    const lane = await this.db.client.webhookLane.findUnique({
      where: { webhookId_sessionId: { webhookId, sessionId } },
      select: { leasedUntil: true, nextAttemptAt: true },
    });
    if (!lane) return null;
    const times = [lane.leasedUntil, lane.nextAttemptAt].filter((t): t is Date => t !== null && t.getTime() > Date.now());
    return times.length ? new Date(Math.max(...times.map((t) => t.getTime()))) : null;
  }

  async delivered(webhookId: string, sessionId: string, seq: number): Promise<void> {
    // updateMany: the lane may be gone meanwhile (its session deleted, and its webhook not waiting for that).
    await this.db.client.webhookLane.updateMany({
      where: { webhookId, sessionId },
      data: { deliveredSeq: seq, attempt: 0, failingSince: null, nextAttemptAt: null },
    });
    await this.markDelivered(webhookId);
  }

  /** The webhook delivered something now. Written at most once a second, so busy lanes of one webhook do not queue on its row. */
  private async markDelivered(webhookId: string): Promise<void> {
    await this.db.client.$executeRaw`
      UPDATE webhooks SET last_delivered_at = now()
      WHERE id = ${webhookId}::uuid AND (last_delivered_at IS NULL OR last_delivered_at < now() - interval '1 second')`;
  }

  /** A failed attempt: the lane waits until `retryAt` and gives its lease back. */
  async failed(webhookId: string, sessionId: string, attempt: number, failingSince: Date, retryAt: Date): Promise<void> {
    await this.db.client.webhookLane.updateMany({
      where: { webhookId, sessionId },
      data: { attempt, failingSince, nextAttemptAt: retryAt, leasedUntil: null },
    });
  }

  /** The holder keeps its lease for another stretch (before each attempt). */
  async renew(webhookId: string, sessionId: string, until: Date): Promise<void> {
    await this.db.client.webhookLane.updateMany({ where: { webhookId, sessionId }, data: { leasedUntil: until } });
  }

  /** Gives the lease back; true when the lane's session was deleted meanwhile (the lane is to be ended). */
  async release(webhookId: string, sessionId: string): Promise<boolean> {
    const rows = await this.db.client.$queryRaw<Array<{ final_seq: bigint | null }>>`
      UPDATE webhook_lanes SET leased_until = NULL
      WHERE webhook_id = ${webhookId}::uuid AND session_id = ${sessionId}::uuid
      RETURNING final_seq`;
    return rows[0]?.final_seq !== null && rows[0]?.final_seq !== undefined;
  }

  /** Skips the lane past changes the log no longer keeps. */
  async skipTo(webhookId: string, sessionId: string, seq: number): Promise<void> {
    await this.db.client.webhookLane.updateMany({ where: { webhookId, sessionId }, data: { deliveredSeq: seq } });
  }

  /**
   * Disables the webhook unless it delivered anything (any lane, any event) within the last
   * `windowMs`: one failing session does not stop a webhook whose other sessions deliver.
   * True when it was disabled.
   */
  async disableIfNothingDelivered(webhookId: string, windowMs: number, reason: string): Promise<boolean> {
    const changed = await this.db.client.$executeRaw`
      UPDATE webhooks SET enabled = false, disabled_reason = ${reason}, updated_at = now()
      WHERE id = ${webhookId}::uuid AND enabled
        AND (last_delivered_at IS NULL OR last_delivered_at < now() - ${windowMs} * interval '1 millisecond')`;
    return changed > 0;
  }

  /**
   * Logs an attempt; now and then the webhook's log is cut back to its latest DELIVERIES_KEPT,
   * and so are its delivered events kept for redelivery.
   */
  async logAttempt(data: Omit<WebhookDelivery, 'at'>, prune: boolean): Promise<void> {
    await this.db.client.webhookDelivery.create({ data });
    if (!prune) return;
    await this.db.client.$executeRaw`
      DELETE FROM webhook_deliveries WHERE webhook_id = ${data.webhookId}::uuid AND id IN (
        SELECT id FROM webhook_deliveries WHERE webhook_id = ${data.webhookId}::uuid
        ORDER BY at DESC, id DESC OFFSET ${DELIVERIES_KEPT})`;
    await this.db.client.$executeRaw`
      DELETE FROM webhook_events WHERE webhook_id = ${data.webhookId}::uuid AND id IN (
        SELECT id FROM webhook_events WHERE webhook_id = ${data.webhookId}::uuid AND delivered_at IS NOT NULL
        ORDER BY delivered_at DESC, id DESC OFFSET ${DELIVERIES_KEPT})`;
  }

  /**
   * What the webhook is waiting to deliver or retrying, at most `limit`, the latest due first:
   * each lane behind its session (its next change) and each pending event it may still send.
   */
  async pendingDeliveries(webhookId: string, limit: number): Promise<PendingDelivery[]> {
    const rows = await this.db.client.$queryRaw<
      Array<{
        event_row_id: string | null;
        event: string;
        session_id: string;
        seq: bigint | null;
        attempt: number;
        next_attempt_at: Date | null;
      }>
    >`
      SELECT * FROM (
        SELECT NULL::uuid AS event_row_id, 'change' AS event, l.session_id, l.delivered_seq + 1 AS seq, l.attempt + 1 AS attempt,
               l.next_attempt_at
        FROM webhook_lanes l JOIN webhooks w ON w.id = l.webhook_id JOIN sessions s ON s.id = l.session_id
        WHERE l.webhook_id = ${webhookId}::uuid AND l.final_seq IS NULL AND s.seq > l.delivered_seq AND ${ownerMayOwn()}
        UNION ALL
        SELECT e.id, e.type, e.session_id, NULL, e.attempt + 1, e.next_attempt_at
        FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
        WHERE e.webhook_id = ${webhookId}::uuid AND e.delivered_at IS NULL AND ${eventReachable()}
      ) pending
      ORDER BY next_attempt_at DESC NULLS FIRST, session_id, seq
      LIMIT ${limit}`;
    return rows.map((row) => ({
      eventRowId: row.event_row_id,
      event: row.event,
      sessionId: row.session_id,
      seq: row.seq === null ? null : Number(row.seq),
      attempt: row.attempt,
      nextAttemptAt: row.next_attempt_at,
    }));
  }

  /** Newest first, `limit + 1` rows from after `cursor`. */
  deliveries(webhookId: string, limit: number, cursor?: ListCursor): Promise<WebhookDelivery[]> {
    const after = cursor ? { OR: [{ at: { lt: cursor.createdAt } }, { at: cursor.createdAt, id: { lt: cursor.id } }] } : {};
    return this.db.client.webhookDelivery.findMany({
      where: { webhookId, ...after },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: limit + 1,
    });
  }
}

const withKey = { session: { select: { key: true } } } as const;
export type WebhookWithKey = Webhook & { session: { key: string } | null };
