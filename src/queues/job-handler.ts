import { DiscoveryService } from '@nestjs/core';
import type { Job } from 'bullmq';
import type { JobName, JobPayloads } from './queue.names.js';

export interface JobRun {
  /** Aborted when the job times out (JOB_TIMEOUT_SECONDS) or the worker cancels it; pass it on to I/O. */
  signal: AbortSignal;
  /** The worker's lock token, for BullMQ calls that need it (moving a parent to wait for children). */
  token: string;
}

/**
 * The one handler of a job name. A handler with a `schedule` runs on it, once per cluster
 * (a BullMQ job scheduler keyed by the job name), installed by every worker at start.
 */
export interface JobHandler<N extends JobName = JobName> {
  readonly job: N;
  readonly schedule?: { everyMs: number } | null;
  handle(job: Job<JobPayloads[N]>, run: JobRun): Promise<unknown>;
}

/**
 * Marks a provider as a job's handler. A feature declares its handlers beside its code and
 * lists them in its own module; the workers find every marked provider when they start.
 */
export const JobProcessor = DiscoveryService.createDecorator<void>();
