import { Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { HealthModule } from '../health/health.module.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { JobQueue } from './job-queue.js';
import { QUEUE_NAMES } from './queue.names.js';
import { defaultJobOptions, jobTelemetry, queueConnection } from './queue.options.js';
import { QueueHealth } from './queue.health.js';
import { QueueMetrics } from './queue.metrics.js';
import { QueueRegistry } from './queue.registry.js';
import { QueueStatsController } from './queue-stats.controller.js';
import { QueueStatsService } from './queue-stats.service.js';

/**
 * The producer side of the queues: every process can enqueue and look jobs up. Workers
 * are a separate module (`WorkersModule`), loaded by `dist/worker.js` or RUN_WORKERS.
 */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        connection: queueConnection(config, 'producer'),
        prefix: config.QUEUE_PREFIX,
        defaultJobOptions: defaultJobOptions(config),
        ...jobTelemetry(),
      }),
    }),
    BullModule.registerQueue(...QUEUE_NAMES.map((name) => ({ name }))),
    HealthModule,
  ],
  controllers: [QueueStatsController],
  providers: [JobQueue, QueueRegistry, QueueStatsService, QueueHealth, QueueMetrics],
  exports: [JobQueue, QueueRegistry, QueueStatsService],
})
export class QueuesModule {}
