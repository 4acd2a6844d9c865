import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '../common/principal.js';
import { CollabServer } from './collab.server.js';
import { OnAppEvent, type UserDeletedEvent } from '../events/app-events.js';

/** A handshake that identified the user just before the delete may complete just after the first sweep. */
const LATE_HANDSHAKE_SWEEP_MS = 2000;

/**
 * A deleted user's sockets are disconnected on every instance (their token is already refused
 * at the handshake, so they cannot come back). Deletions are rare, so the cluster-wide lookup
 * by principal is affordable.
 */
@Injectable()
export class UserRevocationListener {
  private readonly logger = new Logger(UserRevocationListener.name);

  constructor(private readonly server: CollabServer) {}

  @OnAppEvent('user.deleted')
  async onDeleted(event: UserDeletedEvent): Promise<void> {
    if (!this.server.started) return;
    await this.disconnect(event.userId);
    setTimeout(() => void this.disconnect(event.userId), LATE_HANDSHAKE_SWEEP_MS).unref();
  }

  private async disconnect(userId: string): Promise<void> {
    try {
      const sockets = await this.server.namespace.fetchSockets();
      for (const socket of sockets) {
        const principal = (socket.data as { principal?: Principal }).principal;
        if (principal?.kind === 'user' && principal.userId === userId) socket.disconnect(true);
      }
    } catch (error) {
      this.logger.error(`disconnecting the sockets of deleted user ${userId} failed: ${(error as Error).message}`);
    }
  }
}
