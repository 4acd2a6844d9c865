import { Injectable } from '@nestjs/common';
import { ChangeLogRetention } from './change-log.retention.js';
import { JobName } from '../queues/queue.names.js';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';

/**
 * Hourly: changes older than CHANGES_MAX_AGE_HOURS leave every session's log, idle sessions
 * included (a busy session is also trimmed every 64 changes, as it is written).
 */
@Injectable()
@JobProcessor()
export class SweepChangesProcessor implements JobHandler<typeof JobName.SweepChanges> {
  readonly job = JobName.SweepChanges;
  readonly schedule = { everyMs: 3_600_000 };

  constructor(private readonly retention: ChangeLogRetention) {}

  async handle(): Promise<{ deleted: number }> {
    return { deleted: await this.retention.sweep() };
  }
}
