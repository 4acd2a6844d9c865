import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';
import type { QueueName } from './queue.names.js';
import { concurrencyOf } from './queue.options.js';
import { QueueRegistry } from './queue.registry.js';

export interface QueueStats {
  name: QueueName;
  /** Jobs one worker process runs at once on this queue. */
  concurrency: number;
  /** Worker processes connected to the queue now. */
  workers: number;
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  delayed: number;
  /** Jobs held because the queue is paused (0 unless `isPaused`). */
  paused: number;
  isPaused: boolean;
  /** Jobs whose worker stopped renewing their lock (they were handed to another worker), since counting began. */
  stalled: number;
  /** Age of the oldest job waiting to start, in seconds (0 when none waits). */
  oldestWaitingSeconds: number;
  /** Jobs wait and no worker takes them: nobody is connected, or the oldest has waited longer than QUEUE_STUCK_SECONDS. */
  stuck: boolean;
}

/** The `stalled` counters live in one Redis hash so every worker's count adds up cluster-wide. */
export const STALLED_COUNTS_KEY = 'stats:queues:stalled';

@Injectable()
export class QueueStatsService {
  constructor(
    private readonly queues: QueueRegistry,
    private readonly redis: RedisService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async stats(): Promise<QueueStats[]> {
    const stalled = await this.redis.client.hgetall(STALLED_COUNTS_KEY);
    return Promise.all(this.queues.all().map(([name, queue]) => this.queueStats(name, queue, Number(stalled[name] ?? 0))));
  }

  private async queueStats(name: QueueName, queue: Queue, stalled: number): Promise<QueueStats> {
    const [counts, isPaused, workers, oldest] = await Promise.all([
      queue.getJobCounts('wait', 'prioritized', 'waiting-children', 'active', 'completed', 'failed', 'delayed'),
      queue.isPaused(),
      queue.getWorkersCount(),
      this.oldestWaiting(queue),
    ]);
    const waiting = (counts.wait ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0);
    const ready = (counts.wait ?? 0) + (counts.prioritized ?? 0);
    const oldestWaitingSeconds = oldest ? Math.max(0, Math.round((Date.now() - oldest) / 1000)) : 0;
    return {
      name,
      concurrency: concurrencyOf(this.config, name),
      workers,
      waiting,
      active: counts.active ?? 0,
      completed: counts.completed ?? 0,
      failed: counts.failed ?? 0,
      delayed: counts.delayed ?? 0,
      paused: isPaused ? ready : 0,
      isPaused,
      stalled,
      oldestWaitingSeconds,
      stuck: ready > 0 && !isPaused && (workers === 0 || oldestWaitingSeconds > this.config.QUEUE_STUCK_SECONDS),
    };
  }

  /** When the oldest job that could start now was queued (either end of the list, or the first prioritised jobs). */
  private async oldestWaiting(queue: Queue): Promise<number | null> {
    const ends = await Promise.all([queue.getJobs(['wait'], 0, 0), queue.getJobs(['wait'], -1, -1), queue.getJobs(['prioritized'], 0, 49)]);
    const stamps = ends
      .flat()
      .map((job) => job.timestamp)
      .filter((t) => Number.isFinite(t));
    return stamps.length ? Math.min(...stamps) : null;
  }
}
