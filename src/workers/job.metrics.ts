import { Injectable } from '@nestjs/common';
import type { Job, Worker } from 'bullmq';
import { Metrics } from '../metrics/metrics.service.js';
import type { QueueName } from '../queues/queue.names.js';

/** How long this process's jobs waited to start and ran, by queue, job name and outcome. */
@Injectable()
export class JobMetrics {
  private readonly duration;
  private readonly wait;

  constructor(metrics: Metrics) {
    this.duration = metrics.histogram({
      name: 'job_duration_seconds',
      help: 'Job attempt duration in this worker, by queue, job name and outcome (completed, failed)',
      labelNames: ['queue', 'name', 'outcome'],
    });
    this.wait = metrics.histogram({
      name: 'job_wait_seconds',
      help: 'Time from a job being queued (after its delay, if any) to its first attempt starting, by queue',
      labelNames: ['queue'],
    });
  }

  watch(queue: QueueName, worker: Worker): void {
    worker.on('active', (job) => {
      if (job.processedOn && job.attemptsStarted <= 1)
        this.wait.observe({ queue }, Math.max(0, job.processedOn - job.timestamp - (job.delay ?? 0)) / 1000);
    });
    worker.on('completed', (job) => this.attempt(queue, job, 'completed'));
    worker.on('failed', (job) => {
      if (job) this.attempt(queue, job, 'failed');
    });
  }

  private attempt(queue: QueueName, job: Job, outcome: 'completed' | 'failed'): void {
    if (!job.processedOn) return;
    this.duration.observe({ queue, name: job.name, outcome }, Math.max(0, (job.finishedOn ?? Date.now()) - job.processedOn) / 1000);
  }
}
