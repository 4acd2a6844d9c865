import { Module, type DynamicModule, type Type } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { ArtifactCleanupProcessor } from '../artifacts/artifact-cleanup.processor.js';
import { ExportsModule } from '../exports/exports.module.js';
import { ExportProcessor } from '../exports/export.processor.js';
import { GenerationModule } from '../generation/generation.module.js';
import { GenerateProcessor } from '../generation/generate.processor.js';
import { ImageProcessor } from '../generation/image.processor.js';
import { ThinkProcessor } from '../generation/think.processor.js';
import { MaintenanceModule } from '../maintenance/maintenance.module.js';
import { SweepChangesProcessor } from '../maintenance/change-log.processor.js';
import { SweepPresenceProcessor } from '../maintenance/presence.processor.js';
import { SweepSnapshotsProcessor } from '../maintenance/snapshots.processor.js';
import { WarmDocumentProcessor } from '../maintenance/document-warm.processor.js';
import { QUEUE_NAMES } from '../queues/queue.names.js';
import { workerOptions } from '../queues/queue.options.js';
import { JOB_HANDLERS, type JobHandler } from './job-handler.js';
import { JobDispatcher } from './job.dispatcher.js';
import { workerFor, type QueueWorker } from './queue.worker.js';
import { JobMetrics } from './job.metrics.js';
import { QUEUE_WORKERS, WorkerPool } from './worker-pool.js';

/** Every job handler. The dispatcher refuses to start unless each job name has exactly one. */
const HANDLERS: Type<JobHandler>[] = [
  ExportProcessor,
  GenerateProcessor,
  ThinkProcessor,
  ImageProcessor,
  SweepChangesProcessor,
  SweepSnapshotsProcessor,
  SweepPresenceProcessor,
  WarmDocumentProcessor,
  ArtifactCleanupProcessor,
];

/** The queue workers of this process: `dist/worker.js`, or the API with RUN_WORKERS=true. */
@Module({})
export class WorkersModule {
  static forRoot(config: AppConfig): DynamicModule {
    const workers = QUEUE_NAMES.map((queue) => workerFor(queue, workerOptions(config, queue)));
    return {
      module: WorkersModule,
      imports: [ArtifactsModule, ExportsModule, GenerationModule, MaintenanceModule],
      providers: [
        { provide: JOB_HANDLERS, useFactory: (...handlers: JobHandler[]) => handlers, inject: HANDLERS },
        JobDispatcher,
        ...workers,
        { provide: QUEUE_WORKERS, useFactory: (...hosts: QueueWorker[]) => hosts, inject: workers },
        WorkerPool,
        JobMetrics,
      ],
    };
  }
}
