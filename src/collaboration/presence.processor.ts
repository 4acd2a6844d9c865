import { Injectable } from '@nestjs/common';
import { PresenceService } from './presence.service.js';
import { JobName } from '../queues/queue.names.js';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';

/**
 * Every 30 s: members whose instance died (no heartbeat for 45 s) leave their sessions and
 * the rooms are told, instead of lingering until someone else joins.
 */
@Injectable()
@JobProcessor()
export class SweepPresenceProcessor implements JobHandler<typeof JobName.SweepPresence> {
  readonly job = JobName.SweepPresence;
  readonly schedule = { everyMs: 30_000 };

  constructor(private readonly presence: PresenceService) {}

  handle(): Promise<{ sessions: number; dropped: number }> {
    return this.presence.sweep();
  }
}
