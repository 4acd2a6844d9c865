import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

/** Whether this instance is shutting down (readiness fails from the first moment it is), and the HTTP requests it is answering. */
@Injectable()
export class LifecycleState implements BeforeApplicationShutdown {
  private drainingSince?: Date;
  private readonly responses = new Set<ServerResponse>();

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  startDraining(): void {
    this.drainingSince ??= new Date();
  }

  beforeApplicationShutdown(): void {
    this.startDraining();
  }

  /** Counts a request as in flight until its response closes (sent, or the connection gone). */
  requestReceived(response: ServerResponse): void {
    if (response.closed) return;
    this.responses.add(response);
    response.once('close', () => this.responses.delete(response));
  }

  /**
   * Resolves once the requests in flight now are answered. The application closes its
   * database and Redis clients before its HTTP server, so the drain waits here first.
   */
  async requestsAnswered(): Promise<void> {
    await Promise.all([...this.responses].map((response) => once(response, 'close')));
  }
}
