import { UnrecoverableError } from 'bullmq';
import { AppError } from '../errors/app-error.js';
import { ERROR_CATALOG } from '../errors/error-catalog.js';
import { isDependencyOutage } from '../errors/problem.js';
import { ProviderRefusal, ProviderUnavailable } from '../generation/providers/text-provider.js';
import type { JobError } from '../queues/job-error.js';

/** Storage that is full, read-only or refusing us: an outage of a dependency, not a bug of the job. */
const STORAGE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE', 'ENOTDIR']);

export interface JobFailure {
  /** What callers are shown. */
  shown: JobError;
  /** True when `shown` hides the error's own text, which then goes to the log. */
  internal: boolean;
  /** A retry cannot help: the job fails at once instead of backing off. */
  final: boolean;
}

/**
 * Sorts an error a handler threw. An AppError keeps its code and message (they are written for
 * callers); everything else is shown as the catalog's SERVICE_UNAVAILABLE (an outage of the
 * database, Redis, storage or a provider) or INTERNAL_ERROR, with the catalog's sentence.
 */
export function jobFailureOf(error: unknown): JobFailure {
  if (error instanceof AppError) return { shown: { code: error.code, message: error.message }, internal: false, final: error.status < 500 };
  const final = error instanceof UnrecoverableError;
  if (error instanceof ProviderRefusal || error instanceof ProviderUnavailable || isOutage(error))
    return { shown: catalog('SERVICE_UNAVAILABLE'), internal: true, final };
  return { shown: catalog('INTERNAL_ERROR'), internal: true, final };
}

function isOutage(error: unknown): boolean {
  const e = error as { code?: unknown; name?: unknown } | null;
  if (e && typeof e.code === 'string' && STORAGE_CODES.has(e.code)) return true;
  if (e && (e.name === 'TimeoutError' || e.name === 'AbortError')) return true;
  return isDependencyOutage(error);
}

const catalog = (code: 'SERVICE_UNAVAILABLE' | 'INTERNAL_ERROR'): JobError => ({ code, message: ERROR_CATALOG[code].detail });
