import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type { Job } from 'bullmq';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { decodeJobError, type JobError } from '../queues/job-error.js';
import { publicState, toJobView, type JobState } from '../queues/job.view.js';
import { QUEUE_OF, type JobName, type RequestedJob } from '../queues/queue.names.js';
import { QueueRegistry, reportErrors } from '../queues/queue.registry.js';
import { STALLED_COUNTS_KEY } from '../queues/queue-stats.service.js';
import { RedisService } from '../redis/redis.service.js';
import { JobDispatcher } from './job.dispatcher.js';
import { JobMetrics } from './job.metrics.js';
import type { QueueWorker } from './queue.worker.js';
import { OnAppEvent, type JobUpdatedEvent } from '../events/app-events.js';
import { EventBus } from '../events/event-bus.js';

/** Time a hand-back takes (moving jobs back, closing connections) before the shutdown budget ends. */
const HAND_BACK_MARGIN_MS = 2000;

/** The queue workers of this process (one per queue). */
export const QUEUE_WORKERS = Symbol('QUEUE_WORKERS');

/**
 * Starts this process's workers once the application is up (after the handler check),
 * installs the maintenance schedules, reports job progress to the sessions' rooms, and on
 * shutdown lets active jobs finish before the process exits.
 */
@Injectable()
export class WorkerPool implements OnApplicationBootstrap {
  private readonly logger = new Logger(WorkerPool.name);

  constructor(
    @Inject(QUEUE_WORKERS) private readonly workers: QueueWorker[],
    private readonly dispatcher: JobDispatcher,
    private readonly queues: QueueRegistry,
    private readonly events: EventBus,
    private readonly redis: RedisService,
    private readonly metrics: JobMetrics,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.installSchedules();
    for (const host of this.workers) {
      const worker = host.worker;
      worker.on('active', (job) => this.publish(job, 'active'));
      worker.on('progress', (job) => this.publish(job, 'active'));
      worker.on('completed', (job) => this.publish(job, 'completed'));
      worker.on('failed', (job) => {
        if (job) void this.publishFailure(job);
      });
      worker.on('stalled', () => void this.redis.client.hincrby(STALLED_COUNTS_KEY, host.queue, 1).catch(() => undefined));
      this.metrics.watch(host.queue, worker);
      reportErrors(host.queue, worker);
      worker.run().catch((error: Error) => this.logger.error(`worker ${host.queue} stopped: ${error.message}`));
    }
  }

  /**
   * Active jobs finish; those still running HAND_BACK_MARGIN_MS before SHUTDOWN_TIMEOUT_MS
   * ends go back to their queue, so the process exits in time and nothing waits for a lock to lapse.
   */
  @OnAppEvent('app.closing')
  async close(): Promise<void> {
    const timer = setTimeout(
      () => {
        const handed = this.dispatcher.handBack();
        if (handed) this.logger.warn(`shutting down: ${handed} running job(s) handed back to their queues`);
      },
      Math.max(0, this.config.SHUTDOWN_TIMEOUT_MS - HAND_BACK_MARGIN_MS),
    );
    try {
      await Promise.all(this.workers.map((host) => host.worker.close()));
    } finally {
      clearTimeout(timer);
    }
  }

  private async installSchedules(): Promise<void> {
    for (const handler of this.dispatcher.handlers()) {
      if (handler.schedule === undefined) continue;
      const queue = this.queues.get(QUEUE_OF[handler.job]);
      if (handler.schedule === null) {
        await queue.removeJobScheduler(handler.job);
        continue;
      }
      // Upserting an `every` schedule runs it at once: only the first worker to see it missing (or changed) installs it,
      // so a rolling restart does not run the daily cleanup once per pod.
      const installed = await queue.getJobScheduler(handler.job);
      if (installed && Number(installed.every) === handler.schedule.everyMs) continue;
      await queue.upsertJobScheduler(
        handler.job,
        { every: handler.schedule.everyMs },
        { name: handler.job, data: {}, opts: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } },
      );
    }
  }

  private publish(job: Job, state: JobState, error?: JobError): void {
    const data = job.data as Partial<RequestedJob>;
    if (!data.sessionKey || !data.principal) return;
    const { id, queue, name, progress, result } = toJobView(job, QUEUE_OF[job.name as JobName], state);
    const event: JobUpdatedEvent = {
      sessionKey: data.sessionKey,
      ...(data.sessionId !== undefined && { sessionId: data.sessionId }),
      payload: { jobId: id, queue, name, state, progress, ...(result !== undefined && { result }), ...(error && { error }) },
    };
    void this.events.emit('job.updated', event);
  }

  /** A failed attempt is `delayed` while retries remain, `failed` after the last. */
  private async publishFailure(job: Job): Promise<void> {
    const state = publicState(await job.getState().catch(() => 'failed')) ?? 'failed';
    this.publish(job, state === 'delayed' || state === 'waiting' ? state : 'failed', decodeJobError(job.failedReason));
  }
}
