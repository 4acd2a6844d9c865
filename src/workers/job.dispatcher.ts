import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { UnrecoverableError, WaitingChildrenError, WaitingError, type Job } from 'bullmq';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { encodeJobError } from '../queues/job-error.js';
import { JobName, QUEUE_OF, type QueueName } from '../queues/queue.names.js';
import { jobFailureOf } from './job-failure.js';
import { JobProcessor, type JobHandler } from '../queues/job-handler.js';

/** The abort reason of a job stopped because its worker is shutting down. */
class HandedBack extends Error {
  constructor() {
    super('the worker is shutting down: the job goes back to its queue');
  }
}

/**
 * Routes each job to its handler under the job timeout. Built from every provider marked
 * `@JobProcessor()` and refused at start if a job name has no handler, two handlers, or one
 * for a job nobody declared.
 */
@Injectable()
export class JobDispatcher implements OnModuleInit {
  private readonly logger = new Logger(JobDispatcher.name);
  private byName: ReadonlyMap<string, JobHandler> = new Map();
  /** The jobs running now, by the controller that stops them. */
  private readonly running = new Set<AbortController>();

  constructor(
    private readonly discovery: DiscoveryService,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** Every provider is built before any module initialises, so all handlers are found here. */
  onModuleInit(): void {
    const handlers = this.discovery.getProviders({ metadataKey: JobProcessor.KEY }).map((wrapper) => wrapper.instance as JobHandler);
    this.byName = checkHandlers(handlers);
  }

  handlers(): JobHandler[] {
    return [...this.byName.values()];
  }

  /**
   * Shutdown past its grace: every running job is stopped and put back in its queue for
   * another worker, without using an attempt (every job's writes are idempotent).
   */
  handBack(): number {
    for (const controller of this.running) controller.abort(new HandedBack());
    return this.running.size;
  }

  async run(queue: QueueName, job: Job, token: string, signal?: AbortSignal): Promise<unknown> {
    const handler = this.byName.get(job.name);
    if (!handler || QUEUE_OF[handler.job] !== queue) throw new UnrecoverableError(`no handler for job "${job.name}" on queue ${queue}`);
    const timeoutMs = this.config.JOB_TIMEOUT_SECONDS * 1000;
    const controller = new AbortController();
    const timedOut = new AppError('SERVICE_UNAVAILABLE', `The job did not finish within ${this.config.JOB_TIMEOUT_SECONDS} s.`);
    const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
    const forward = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', forward, { once: true });
    this.running.add(controller);
    try {
      return await Promise.race([
        handler.handle(job as Parameters<JobHandler['handle']>[0], { signal: controller.signal, token }),
        rejectWhenAborted(controller.signal),
      ]);
    } catch (error) {
      if (controller.signal.reason instanceof HandedBack) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
      throw this.asJobError(job, error);
    } finally {
      this.running.delete(controller);
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
    }
  }

  /**
   * What BullMQ records for a failed attempt: the public error only (the internal one is logged
   * here). A refusal from the domain (the session is gone, the caller lost write access, the
   * input is invalid) will not change on retry: the job fails at once. Anything else (an
   * outage, a timeout, a provider error) is retried with backoff.
   */
  private asJobError(job: Job, error: unknown): unknown {
    if (error instanceof WaitingChildrenError) return error;
    const failure = jobFailureOf(error);
    if (failure.internal) this.logger.error(`job ${job.name} ${job.id} failed: ${(error as Error)?.stack ?? String(error)}`);
    const reason = encodeJobError(failure.shown);
    return failure.final ? new UnrecoverableError(reason) : new Error(reason);
  }
}

/** The startup check: exactly one handler per job name, each on its job's queue. */
export function checkHandlers(handlers: JobHandler[]): Map<string, JobHandler> {
  const byName = new Map<string, JobHandler>();
  for (const handler of handlers) {
    if (byName.has(handler.job)) throw new Error(`two handlers for job "${handler.job}"`);
    byName.set(handler.job, handler);
  }
  const missing = Object.values(JobName).filter((name) => !byName.has(name));
  if (missing.length) throw new Error(`no handler for job(s): ${missing.join(', ')}`);
  const unknown = [...byName.keys()].filter((name) => !(name in QUEUE_OF));
  if (unknown.length) throw new Error(`handlers for unknown job(s): ${unknown.join(', ')}`);
  return byName;
}

function rejectWhenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener(
      'abort',
      () => {
        const reason: unknown = signal.reason;
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      },
      { once: true },
    );
  });
}
