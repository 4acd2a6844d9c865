import { ApiHeader } from '@nestjs/swagger';

/** Documents the Idempotency-Key of the routes that queue a job. */
export const ApiIdempotentJob = () =>
  ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'A retry with the same key (within the time finished jobs are kept) returns the same jobId and queues nothing.',
  });
