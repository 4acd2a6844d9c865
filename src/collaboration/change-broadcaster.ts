import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { may } from '../sessions/session-access.js';
import { ownersRoomOf, readersRoomOf, roomOf } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';
import { PresenceService } from './presence.service.js';
import { OnAppEvent, type BlockConflictEvent, type CommittedChange, type SessionDeletedEvent } from '../events/app-events.js';

/**
 * Every committed change, whether made over HTTP or a socket, goes to the session's room on
 * every instance that holds members of it (the Redis adapter routes by room). Deletion and
 * lowered visibility take the affected sockets out of the room everywhere, and say why.
 */
@Injectable()
export class ChangeBroadcaster {
  private readonly logger = new Logger(ChangeBroadcaster.name);

  constructor(
    private readonly server: CollabServer,
    private readonly presence: PresenceService,
  ) {}

  @OnAppEvent('change.committed')
  async onChange(event: CommittedChange): Promise<void> {
    if (!this.server.started) return;
    // The change that lowered visibility still goes to the audience it had; every later one only to who may read it.
    // The key rides beside the change (a session change names no key of its own), for clients in several rooms.
    const room = event.visibilityLowered ? roomOf(event.sessionKey) : readersRoomOf(event.sessionKey, event.visibility);
    this.server.namespace.to(room).emit('change', event.change, { key: event.sessionKey });
    if (event.visibilityLowered && event.ownerId !== undefined) {
      await this.revokeWhoCannotRead(event.sessionKey, { ownerId: event.ownerId, visibility: event.visibility });
    }
  }

  /** To everyone but the socket whose write was refused (it has the refusal in its ack). */
  @OnAppEvent('block.conflict')
  onConflict(event: BlockConflictEvent): void {
    if (!this.server.started) return;
    const room = this.server.namespace.to(readersRoomOf(event.sessionKey, event.visibility));
    const { blockId, attemptedVersion, current, actor } = event;
    (event.origin ? room.except(event.origin) : room).emit('block.conflict', { blockId, attemptedVersion, current, actor });
  }

  @OnAppEvent('session.deleted')
  async onDeleted(event: SessionDeletedEvent): Promise<void> {
    if (!this.server.started) return;
    const room = roomOf(event.key);
    this.server.namespace.to(room).emit('session.revoked', { key: event.key, reason: 'deleted' });
    this.server.namespace.in(room).socketsLeave([room, ownersRoomOf(event.key)]);
    await this.presence.clear(event.key).catch(() => undefined);
  }

  private async revokeWhoCannotRead(key: string, session: { ownerId: string | null; visibility: 'link' | 'readonly' | 'private' }) {
    const room = roomOf(key);
    try {
      const sockets = await this.server.namespace.in(room).fetchSockets();
      for (const socket of sockets) {
        if (may(session, (socket.data as { principal: Principal }).principal, 'read')) continue;
        socket.emit('session.revoked', { key, reason: 'access' });
        socket.leave(room);
        socket.leave(ownersRoomOf(key));
        await this.presence.leave(key, socket.id);
      }
      await this.presence.announce(key);
    } catch (error) {
      this.logger.error(`revoking access to ${key} failed: ${(error as Error).message}`);
    }
  }
}
