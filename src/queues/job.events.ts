import type { JobError } from './job-error.js';
import type { JobState } from './job.view.js';
import type { QueueName } from './queue.names.js';

/** A job of a session changed state or progress (published by the worker that runs it). */
export const JOB_UPDATED = 'job.updated';

export interface JobUpdatedEvent {
  sessionKey: string;
  /** The socket event `job`, as the session's room receives it (README, Collaboration). */
  payload: {
    jobId: string;
    queue: QueueName;
    name: string;
    state: JobState;
    progress: number;
    result?: unknown;
    error?: JobError;
  };
}
