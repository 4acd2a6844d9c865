import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { BLOCK_CONFLICT, CHANGE_COMMITTED, type BlockConflictEvent, type CommittedChange } from '../changes/change.event.js';
import { roomOf } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';

/**
 * Every committed change, whether made over HTTP or a socket, goes to the session's room on
 * every instance that holds members of it (the Redis adapter routes by room).
 */
@Injectable()
export class ChangeBroadcaster {
  constructor(private readonly server: CollabServer) {}

  @OnEvent(CHANGE_COMMITTED)
  onChange(event: CommittedChange): void {
    if (this.server.started) this.server.namespace.to(roomOf(event.sessionKey)).emit('change', event.change);
  }

  /** To everyone but the socket whose write was refused (it has the refusal in its ack). */
  @OnEvent(BLOCK_CONFLICT)
  onConflict(event: BlockConflictEvent): void {
    if (!this.server.started) return;
    const room = this.server.namespace.to(roomOf(event.sessionKey));
    const { blockId, attemptedVersion, current, actor } = event;
    (event.origin ? room.except(event.origin) : room).emit('block.conflict', { blockId, attemptedVersion, current, actor });
  }
}
