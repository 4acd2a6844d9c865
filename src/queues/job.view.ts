import type { Job } from 'bullmq';
import { decodeJobError, type JobError } from './job-error.js';
import type { QueueName } from './queue.names.js';

export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed';

/** A job as the API shows it (docs/api.md, Background jobs). */
export interface JobView {
  id: string;
  queue: QueueName;
  name: string;
  sessionKey: string | null;
  state: JobState;
  progress: number;
  result?: unknown;
  /** A failed (or retrying) job's last error: a catalog code and its sentence, never internal text. */
  error?: JobError;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  finishedAt?: string;
}

/** BullMQ's states onto the contract's five: waiting-children and prioritized are still waiting. */
export function publicState(state: string): JobState | null {
  switch (state) {
    case 'waiting':
    case 'wait':
    case 'prioritized':
    case 'waiting-children':
    case 'paused':
      return 'waiting';
    case 'active':
    case 'completed':
    case 'failed':
    case 'delayed':
      return state;
    default:
      return null;
  }
}

export function progressOf(job: Pick<Job, 'progress'>): number {
  return typeof job.progress === 'number' ? job.progress : 0;
}

export function toJobView(job: Job, queue: QueueName, state: JobState): JobView {
  const data = job.data as { sessionKey?: string };
  return {
    id: job.id!,
    queue,
    name: job.name,
    sessionKey: data.sessionKey ?? null,
    state,
    progress: state === 'completed' ? 100 : progressOf(job),
    ...(state === 'completed' && { result: job.returnvalue as unknown }),
    ...(job.failedReason && state !== 'completed' && { error: decodeJobError(job.failedReason) }),
    attempts: Math.max(job.attemptsStarted ?? 0, job.attemptsMade),
    maxAttempts: job.opts.attempts ?? 1,
    createdAt: new Date(job.timestamp).toISOString(),
    ...(job.finishedOn && { finishedAt: new Date(job.finishedOn).toISOString() }),
  };
}
