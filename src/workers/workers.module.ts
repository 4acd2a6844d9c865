import { Module, type DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { AppConfig } from '../config/app-config.js';
import { HealthModule } from '../health/health.module.js';
import { QueuesModule } from '../queues/queues.module.js';
import { QUEUE_NAMES } from '../queues/queue.names.js';
import { workerOptions } from '../queues/queue.options.js';
import { JobDispatcher } from './job.dispatcher.js';
import { workerFor, type QueueWorker } from './queue.worker.js';
import { JobMetrics } from './job.metrics.js';
import { QUEUE_WORKERS, WorkerPool } from './worker-pool.js';

/**
 * The queue workers of this process: `dist/worker.js`, or the API with RUN_WORKERS=true.
 * Handlers live with their features (each marked `@JobProcessor()` in its own module); the
 * dispatcher finds them all and refuses to start unless each job name has exactly one.
 */
@Module({})
export class WorkersModule {
  static forRoot(config: AppConfig): DynamicModule {
    const workers = QUEUE_NAMES.map((queue) => workerFor(queue, workerOptions(config, queue)));
    return {
      module: WorkersModule,
      imports: [DiscoveryModule, HealthModule, QueuesModule],
      providers: [
        JobDispatcher,
        ...workers,
        { provide: QUEUE_WORKERS, useFactory: (...hosts: QueueWorker[]) => hosts, inject: workers },
        WorkerPool,
        JobMetrics,
      ],
    };
  }
}
