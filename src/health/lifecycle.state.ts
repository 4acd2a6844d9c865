import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

/**
 * Published (awaited) after the drain delay, just before the application closes: long-lived
 * connections say goodbye here while the HTTP server still serves in-flight requests.
 */
export const APP_CLOSING = 'app.closing';

/** Whether this instance is shutting down; readiness fails from the first moment it is. */
@Injectable()
export class LifecycleState implements BeforeApplicationShutdown {
  private drainingSince?: Date;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  startDraining(): void {
    this.drainingSince ??= new Date();
  }

  beforeApplicationShutdown(): void {
    this.startDraining();
  }
}
