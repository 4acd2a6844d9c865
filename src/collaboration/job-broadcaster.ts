import { Injectable } from '@nestjs/common';
import { roomOf } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';
import { OnAppEvent, type JobUpdatedEvent } from '../events/app-events.js';

/** Job state and progress go to the session's room (the `job` event), from whichever process runs the job. */
@Injectable()
export class JobBroadcaster {
  constructor(private readonly server: CollabServer) {}

  @OnAppEvent('job.updated')
  onJobUpdated(event: JobUpdatedEvent): void {
    if (!this.server.started) return;
    this.server.namespace.to(roomOf(event.sessionKey)).emit('job', event.payload);
  }
}
