import type { ConnectionOptions, DefaultJobOptions, WorkerOptions } from 'bullmq';
import type { Principal } from '../common/principal.js';
import type { AppConfig } from '../config/app-config.js';
import { tracing } from '../telemetry/tracing.state.js';
import { DEFAULT_REDIS_URL } from '../redis/local-redis-server.js';
import { queueLimit } from './queue.limits.js';
import type { QueueName } from './queue.names.js';

/**
 * Producers fail fast while Redis is away (the request answers 503); workers wait for it
 * (BullMQ's blocking commands need `maxRetriesPerRequest: null`).
 */
export function queueConnection(config: AppConfig, role: 'producer' | 'worker'): ConnectionOptions {
  return {
    url: config.REDIS_URL ?? DEFAULT_REDIS_URL,
    connectionName: `tessera:bullmq:${role}`,
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    connectTimeout: 2000,
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
}

/**
 * With tracing on, queueing a job records a span and carries the caller's trace context in
 * the job, and each attempt runs in a span that continues that trace.
 */
export function jobTelemetry(): Pick<WorkerOptions, 'telemetry'> {
  return tracing.jobs ? { telemetry: tracing.jobs } : {};
}

export function concurrencyOf(config: AppConfig, queue: QueueName): number {
  switch (queue) {
    case 'ai-generation':
      return config.AI_GENERATION_CONCURRENCY;
    case 'thinking':
      return config.THINKING_QUEUE_CONCURRENCY;
    case 'image-generation':
      return config.IMAGE_GENERATION_CONCURRENCY;
    case 'export':
      return config.EXPORT_CONCURRENCY;
    case 'collaboration':
      return config.COLLABORATION_CONCURRENCY;
    case 'webhooks':
      return config.WEBHOOK_CONCURRENCY;
  }
}

/** Retries with exponential backoff; finished jobs kept by age and count, so Redis stays bounded. */
export function defaultJobOptions(config: AppConfig): DefaultJobOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    removeOnComplete: { age: config.JOB_KEEP_COMPLETED_HOURS * 3600, count: config.JOB_KEEP_COMPLETED },
    removeOnFail: { age: config.JOB_KEEP_FAILED_DAYS * 24 * 3600, count: config.JOB_KEEP_FAILED },
    stackTraceLimit: 10,
  };
}

export function workerOptions(config: AppConfig, queue: QueueName): Partial<WorkerOptions> {
  const limit = queueLimit(queue, config.QUEUE_LIMITS);
  return {
    autorun: false,
    connection: queueConnection(config, 'worker'),
    prefix: config.QUEUE_PREFIX,
    concurrency: concurrencyOf(config, queue),
    ...(limit && { limiter: { max: limit.max, duration: limit.durationMs } }),
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: config.JOB_LOCK_MS,
    maxStalledCount: 2,
    ...jobTelemetry(),
  };
}

/** BullMQ runs lower numbers first; 0 would mean "before every prioritised job", so plans start at 1. */
const PRIORITY = { ENTERPRISE: 1, PRO: 2, FREE: 3 } as const;

export function priorityOf(principal: Principal): number {
  return principal.kind === 'admin' ? PRIORITY.ENTERPRISE : PRIORITY[principal.plan];
}
