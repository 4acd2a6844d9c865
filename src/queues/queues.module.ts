import { Global, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { BlocksModule } from '../blocks/blocks.module.js';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { JobsController } from './jobs.controller.js';
import { JobsService } from './jobs.service.js';
import { QUEUE_NAMES } from './queue.names.js';
import { defaultJobOptions, queueConnection } from './queue.options.js';
import { QueueHealth } from './queue.health.js';
import { QueueMetrics } from './queue.metrics.js';
import { QueueRegistry } from './queue.registry.js';
import { QueueStatsController } from './queue-stats.controller.js';
import { QueueStatsService } from './queue-stats.service.js';

/**
 * The producer side of the queues: every process can enqueue and look jobs up. Workers
 * are a separate module (`WorkersModule`), loaded by `dist/worker.js` or RUN_WORKERS.
 */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        connection: queueConnection(config, 'producer'),
        prefix: config.QUEUE_PREFIX,
        defaultJobOptions: defaultJobOptions(config),
      }),
    }),
    BullModule.registerQueue(...QUEUE_NAMES.map((name) => ({ name }))),
    BlocksModule,
  ],
  controllers: [JobsController, QueueStatsController],
  providers: [QueueRegistry, JobsService, QueueStatsService, QueueHealth, QueueMetrics],
  exports: [QueueRegistry, JobsService, QueueStatsService],
})
export class QueuesModule {}
