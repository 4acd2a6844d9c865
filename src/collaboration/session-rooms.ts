import { Injectable } from '@nestjs/common';
import { ChangesService, type ChangesPage } from '../changes/changes.service.js';
import { AppError } from '../errors/app-error.js';
import { may, memberRoleOf } from '../sessions/session-access.js';
import type { CollabSocket } from './collab.handshake.js';
import { roomsFor } from './collab.protocol.js';
import { PresenceService } from './presence.service.js';
import type { Member } from '../contract/presence.js';
import { SessionAccess } from '../sessions/session-access.service.js';

/** At most this many missed changes in a join's ack; a client further behind reads /changes (or reloads). */
const MISSED_LIMIT = 1000;

export interface Joined {
  session: { key: string; version: number; seq: number };
  presence: Member[];
  missed?: ChangesPage['items'];
  code?: 'CHANGES_EXPIRED';
}

/** Sockets entering and leaving sessions' rooms, with presence and the changes they missed. */
@Injectable()
export class SessionRooms {
  constructor(
    private readonly access: SessionAccess,
    private readonly changes: ChangesService,
    private readonly presence: PresenceService,
  ) {}

  async join(socket: CollabSocket, key: string, since: number | undefined): Promise<Joined> {
    const principal = socket.data.principal;
    const { head } = await this.access.require(principal, key, 'read');
    // The owner, operators and members always get a seat.
    const privileged =
      may(head, principal, 'own') || (principal.kind === 'user' && memberRoleOf(head.memberRoles, principal.userId) !== null);
    if (!(await this.presence.join(key, socket.id, principal, { privileged }))) throw new AppError('ROOM_FULL');
    await socket.join(roomsFor(key, principal));
    (socket.data.sessions ??= new Set()).add(key);
    // Access again, from the database, now that the socket is in the room: a revocation that
    // committed after the first check looked for this socket before it was there, and missed it.
    let current;
    try {
      current = await this.access.require(principal, key, 'read', { fresh: true });
    } catch (error) {
      await this.leave(socket, key);
      throw error;
    }
    const presence = await this.presence.announce(key);
    const session = { key, version: current.head.version, seq: current.head.seq };
    if (since === undefined) return { session, presence };
    try {
      const { items } = await this.changes.since({ id: current.id, key, seq: current.head.seq }, since, MISSED_LIMIT);
      return { session, presence, missed: items };
    } catch (error) {
      if (error instanceof AppError && error.code === 'CHANGES_EXPIRED') return { session, presence, code: 'CHANGES_EXPIRED' };
      throw error;
    }
  }

  async leave(socket: CollabSocket, key: string): Promise<void> {
    socket.data.sessions?.delete(key);
    for (const room of roomsFor(key, socket.data.principal)) await socket.leave(room);
    await this.presence.leave(key, socket.id);
    await this.presence.announce(key);
  }
}
