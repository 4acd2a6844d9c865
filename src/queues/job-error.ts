import { ERROR_CATALOG, type ErrorCode } from '../errors/error-catalog.js';

/** What a failed job shows (GET /api/jobs/:id and the room's `job` event): a catalog code and a sentence for people. */
export interface JobError {
  code: ErrorCode;
  message: string;
}

const isCode = (code: unknown): code is ErrorCode => typeof code === 'string' && Object.hasOwn(ERROR_CATALOG, code);

/** The reason a failed attempt records in BullMQ (its `failedReason`): the public error, never the internal one. */
export function encodeJobError(error: JobError): string {
  return JSON.stringify({ code: error.code, message: error.message });
}

/**
 * A recorded reason read back. Anything not written by `encodeJobError` (BullMQ's own reasons, such as a
 * stalled job, or a reason recorded by an older release) is shown as the catalog's INTERNAL_ERROR, so no
 * internal text can reach a caller whatever wrote it.
 */
export function decodeJobError(reason: string): JobError {
  try {
    const parsed = JSON.parse(reason) as { code?: unknown; message?: unknown } | null;
    if (parsed && isCode(parsed.code) && typeof parsed.message === 'string') return { code: parsed.code, message: parsed.message };
  } catch {
    // not one of ours
  }
  const older = /^([A-Z_]{3,40}): /.exec(reason)?.[1];
  if (isCode(older)) return { code: older, message: ERROR_CATALOG[older].detail };
  return { code: 'INTERNAL_ERROR', message: ERROR_CATALOG.INTERNAL_ERROR.detail };
}
