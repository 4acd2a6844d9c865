import { Injectable } from '@nestjs/common';
import { JobName } from '../queues/queue.names.js';
import { SnapshotsService } from './snapshots.service.js';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';

/** Hourly: snapshots past their session owner's plan retention (7, 30 or 365 days) are deleted. */
@Injectable()
@JobProcessor()
export class SweepSnapshotsProcessor implements JobHandler<typeof JobName.SweepSnapshots> {
  readonly job = JobName.SweepSnapshots;
  readonly schedule = { everyMs: 3_600_000 };

  constructor(private readonly snapshots: SnapshotsService) {}

  async handle(): Promise<{ deleted: number }> {
    return { deleted: await this.snapshots.sweepExpired() };
  }
}
