import { Injectable } from '@nestjs/common';
import type { Gauge } from 'prom-client';
import { Metrics } from '../metrics/metrics.service.js';
import { QueueStatsService, type QueueStats } from './queue-stats.service.js';

const STATES = ['waiting', 'active', 'delayed', 'paused', 'completed', 'failed'] as const;

/**
 * Queue depths, cluster-wide (read from Redis, so every pod reports the same figures:
 * aggregate with `max`, not `sum`). `queue_jobs{state="waiting"}` drives the worker HPA.
 */
@Injectable()
export class QueueMetrics {
  /** One look at the queues serves every gauge of one scrape. */
  private reading?: Promise<QueueStats[]>;

  constructor(
    metrics: Metrics,
    private readonly queues: QueueStatsService,
  ) {
    const lookup = () => this.stats();
    const read = <L extends string>(set: (gauge: Gauge<L>, q: QueueStats) => void) =>
      async function collect(this: Gauge<L>) {
        for (const q of await lookup()) set(this, q);
      };
    metrics.gauge({
      name: 'queue_jobs',
      help: 'Jobs in each queue, by state (cluster-wide)',
      labelNames: ['queue', 'state'],
      collect: read((gauge, q) => STATES.forEach((state) => gauge.set({ queue: q.name, state }, q[state]))),
    });
    metrics.gauge({
      name: 'queue_workers',
      help: 'Worker processes connected to each queue',
      labelNames: ['queue'],
      collect: read((gauge, q) => gauge.set({ queue: q.name }, q.workers)),
    });
    metrics.gauge({
      name: 'queue_oldest_waiting_seconds',
      help: 'Age of the oldest job waiting to start in each queue',
      labelNames: ['queue'],
      collect: read((gauge, q) => gauge.set({ queue: q.name }, q.oldestWaitingSeconds)),
    });
    metrics.gauge({
      name: 'queue_stalled_jobs',
      help: 'Jobs handed to another worker after their worker stopped renewing the lock, since counting began (cluster-wide)',
      labelNames: ['queue'],
      collect: read((gauge, q) => gauge.set({ queue: q.name }, q.stalled)),
    });
  }

  private stats(): Promise<QueueStats[]> {
    this.reading ??= this.queues.stats().finally(() => (this.reading = undefined));
    return this.reading;
  }
}
