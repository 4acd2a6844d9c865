import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { roleIn, type Guarded } from '../sessions/session-access.js';
import { CHANGE_BATCH_PACKET, changeBatch, deliverChanges } from './change-batch.js';
import { readerRoomsOf, roomOf, roomsFor, userRoomOf } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';
import { PresenceService } from './presence.service.js';
import { OnAppEvent, type BlockConflictEvent, type CommittedChange, type SessionDeletedEvent } from '../events/app-events.js';

/**
 * Every committed change, whether made over HTTP or a socket, goes to the session's room on
 * every instance that holds members of it (the Redis adapter routes by room). The changes
 * this instance commits for a session within one tick (a group commit's writes announce
 * themselves together) travel as one batch: one adapter message per session and tick,
 * each change with the audience its own statement saw, which the receiving instances
 * check per socket (see change-batch). Deletion, lowered visibility and member changes
 * take the affected sockets out of the room everywhere, and say why; a member whose role
 * changed but still reads is told the new role.
 */
@Injectable()
export class ChangeBroadcaster {
  private readonly logger = new Logger(ChangeBroadcaster.name);
  /** The changes of the current tick, by session key. */
  private queued = new Map<string, CommittedChange[]>();
  private tick?: Promise<void>;

  constructor(
    private readonly server: CollabServer,
    private readonly presence: PresenceService,
  ) {}

  /**
   * Queues the change for this tick's batch. A write does not wait for the publish (its
   * answer carries its seq); a change that may take access away does, so the removed hear
   * of it after the change itself.
   */
  @OnAppEvent('change.committed')
  async onChange(event: CommittedChange): Promise<void> {
    if (!this.server.started) return;
    const published = this.publishInTick(event);
    if (!event.visibilityLowered && !event.rolesChanged?.length) return;
    await published;
    const key = event.sessionKey;
    const session = { ownerId: event.ownerId ?? null, visibility: event.visibility, memberRoles: event.memberRoles ?? {} };
    if (event.visibilityLowered && event.ownerId !== undefined) await this.revokeWhoCannotRead(key, roomOf(key), session);
    for (const userId of event.rolesChanged ?? []) await this.revokeWhoCannotRead(key, userRoomOf(key, userId), session, true);
  }

  private publishInTick(event: CommittedChange): Promise<void> {
    const queued = this.queued.get(event.sessionKey);
    if (queued) queued.push(event);
    else this.queued.set(event.sessionKey, [event]);
    return (this.tick ??= new Promise((resolve) =>
      setImmediate(() => {
        this.tick = undefined;
        this.publishQueued();
        resolve();
      }),
    ));
  }

  private publishQueued(): void {
    const queued = this.queued;
    this.queued = new Map();
    const namespace = this.server.namespace;
    for (const [key, events] of queued) {
      try {
        const batch = changeBatch(key, events);
        const room = roomOf(key);
        // To the other instances on the room's channel; excluding the room keeps the adapter itself from delivering it.
        namespace.to(room).except(room).emit(CHANGE_BATCH_PACKET, batch);
        deliverChanges(namespace, batch);
      } catch (error) {
        this.logger.error(`publishing the changes of ${key} failed: ${(error as Error).message}`);
      }
    }
  }

  /** To everyone but the socket whose write was refused (it has the refusal in its ack). */
  @OnAppEvent('block.conflict')
  onConflict(event: BlockConflictEvent): void {
    if (!this.server.started) return;
    const { blockId, attemptedVersion, current, actor } = event;
    for (const name of readerRoomsOf(event.sessionKey, event)) {
      const room = this.server.namespace.to(name);
      (event.origin ? room.except(event.origin) : room).emit('block.conflict', { blockId, attemptedVersion, current, actor });
    }
  }

  @OnAppEvent('session.deleted')
  async onDeleted(event: SessionDeletedEvent): Promise<void> {
    if (!this.server.started) return;
    const room = roomOf(event.key);
    this.server.namespace.to(room).emit('session.revoked', { key: event.key, reason: 'deleted' });
    const sockets = await this.server.namespace
      .in(room)
      .fetchSockets()
      .catch(() => []);
    for (const socket of sockets) for (const name of roomsFor(event.key, principalOf(socket))) socket.leave(name);
    this.server.namespace.in(room).socketsLeave(room);
    await this.presence.clear(event.key).catch(() => undefined);
  }

  /**
   * The sockets of `room` that can no longer read the session leave it, told why; with
   * `tell`, those still reading are told their role.
   */
  private async revokeWhoCannotRead(key: string, room: string, session: Guarded, tell = false) {
    try {
      const sockets = await this.server.namespace.in(room).fetchSockets();
      let left = false;
      for (const socket of sockets) {
        const principal = principalOf(socket);
        const role = roleIn(session, principal);
        if (role !== null) {
          if (tell) socket.emit('session.role', { key, role });
          continue;
        }
        socket.emit('session.revoked', { key, reason: 'access' });
        for (const name of roomsFor(key, principal)) socket.leave(name);
        await this.presence.leave(key, socket.id);
        left = true;
      }
      if (left || !tell) await this.presence.announce(key);
    } catch (error) {
      this.logger.error(`revoking access to ${key} failed: ${(error as Error).message}`);
    }
  }
}

const principalOf = (socket: { data: unknown }) => (socket.data as { principal: Principal }).principal;
