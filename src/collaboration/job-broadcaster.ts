import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { JOB_UPDATED, type JobUpdatedEvent } from '../queues/job.events.js';
import { roomOf } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';

/** Job state and progress go to the session's room (the `job` event), from whichever process runs the job. */
@Injectable()
export class JobBroadcaster {
  constructor(private readonly server: CollabServer) {}

  @OnEvent(JOB_UPDATED)
  onJobUpdated(event: JobUpdatedEvent): void {
    if (!this.server.started) return;
    this.server.namespace.to(roomOf(event.sessionKey)).emit('job', event.payload);
  }
}
