import { Inject, Injectable, Logger } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue, Worker } from 'bullmq';
import { QUEUE_NAMES, type QueueName } from './queue.names.js';

/** The six queues by name, for code that picks one at run time (job lookup, stats, health). */
@Injectable()
export class QueueRegistry {
  private readonly byName: ReadonlyMap<QueueName, Queue>;

  constructor(
    @Inject(getQueueToken('ai-generation')) aiGeneration: Queue,
    @Inject(getQueueToken('thinking')) thinking: Queue,
    @Inject(getQueueToken('image-generation')) imageGeneration: Queue,
    @Inject(getQueueToken('export')) exports: Queue,
    @Inject(getQueueToken('collaboration')) collaboration: Queue,
    @Inject(getQueueToken('webhooks')) webhooks: Queue,
  ) {
    const queues = [aiGeneration, thinking, imageGeneration, exports, collaboration, webhooks];
    this.byName = new Map(QUEUE_NAMES.map((name, i) => [name, queues[i]]));
    for (const [name, queue] of this.byName) reportErrors(name, queue);
  }

  get(name: QueueName): Queue {
    return this.byName.get(name)!;
  }

  all(): Array<[QueueName, Queue]> {
    return [...this.byName.entries()];
  }
}

const logger = new Logger('Queues');

/** Without a listener BullMQ prints every connection error with its stack; a line a minute per queue (or worker) is enough. */
export function reportErrors(name: QueueName, emitter: Queue | Worker): void {
  let last = 0;
  (emitter as NodeJS.EventEmitter).on('error', (error: Error) => {
    if (Date.now() - last < 60_000) return;
    last = Date.now();
    logger.warn(`queue ${name}: ${error.message}`);
  });
}
