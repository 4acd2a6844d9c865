import { Injectable, type Type } from '@nestjs/common';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job, WorkerOptions } from 'bullmq';
import type { QueueName } from '../queues/queue.names.js';
import { JobDispatcher } from './job.dispatcher.js';

/** The BullMQ worker of one queue; every job goes through the dispatcher to its handler. */
@Injectable()
export abstract class QueueWorker extends WorkerHost {
  abstract readonly queue: QueueName;

  constructor(private readonly dispatcher: JobDispatcher) {
    super();
  }

  /** Three parameters, so BullMQ hands over its abort signal (cancellation, lost lock). */
  process(job: Job, token?: string, signal?: AbortSignal): Promise<unknown> {
    return this.dispatcher.run(this.queue, job, token ?? '', signal);
  }
}

/**
 * A worker class for `queue` with options from the validated configuration. `@Processor`
 * takes its options when a class is declared, while concurrency, limits and locks come from
 * the environment at boot, so each boot declares its own classes.
 */
export function workerFor(queue: QueueName, options: Partial<WorkerOptions>): Type<QueueWorker> {
  @Processor(queue, options)
  class ConfiguredWorker extends QueueWorker {
    readonly queue = queue;
  }
  Object.defineProperty(ConfiguredWorker, 'name', {
    value: `${queue.replace(/(^|-)(\w)/g, (_, _d: string, c: string) => c.toUpperCase())}Worker`,
  });
  return ConfiguredWorker;
}
