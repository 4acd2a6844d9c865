import type { StandardSchemaV1 } from '@standard-schema/spec';
import { AppError } from '../errors/app-error.js';
import { toProblem } from '../errors/problem.js';
import { issuesToFieldErrors } from '../errors/validation.js';

/** Socket acks: `{ok: true, ...}` or the problem an HTTP client would get, as `{ok: false, code, message, ...}`. */
export type Ack = { ok: true; [field: string]: unknown } | { ok: false; code: string; message: string; [field: string]: unknown };

export function errorAck(error: unknown): Ack {
  const { problem } = toProblem(error);
  const { type: _type, title: _title, status, detail, code, ...extensions } = problem;
  return { ...extensions, ok: false, code, message: detail, status };
}

/** Validates an event payload with the HTTP route's schema, so both answer the same VALIDATION_FAILED. */
export async function parsePayload<T>(schema: StandardSchemaV1<unknown, T>, payload: unknown): Promise<T> {
  const result = await schema['~standard'].validate(payload);
  if (result.issues) throw AppError.validation(issuesToFieldErrors(result.issues));
  return result.value;
}
