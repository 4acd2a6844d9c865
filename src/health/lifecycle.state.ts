import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';

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
