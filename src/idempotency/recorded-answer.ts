import type { ExecutionContext } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { toProblem } from '../errors/problem.js';
import type { RecordedAnswer } from './idempotency.repository.js';

/**
 * The longest answer body a record keeps, so that keys cannot turn cheap requests into
 * stored megabytes: a longer refusal is not recorded (it wrote nothing, so its retry decides
 * afresh), a longer success (a restore of a large session) is recorded without its body.
 */
export const RECORDED_BODY_MAX_CHARS = 256 * 1024;

/** A refusal that is the request's own answer (4xx, not a limit's "later"): recorded and replayed. */
export function recordableRefusal(error: unknown) {
  const { problem, internal } = toProblem(error);
  if (internal || problem.status >= 500 || problem.status === 429) return undefined;
  return problem;
}

/**
 * What the handler answered, as it is recorded and as it is sent: a body streamed in slices
 * (a restore's whole document) is gathered into one text, bounded like the session it holds.
 */
export async function answerOf(
  context: ExecutionContext,
  fingerprint: string,
  value: unknown,
): Promise<{ answer: RecordedAnswer; result: unknown }> {
  if (context.getType() === 'ws') {
    return { answer: { fingerprint, status: 200, etag: null, body: JSON.stringify(value ?? {}) }, result: value };
  }
  const reply = context.switchToHttp().getResponse<FastifyReply>();
  let body: string | null;
  let result = value;
  if (value === undefined || value === null) body = null;
  else if (typeof value === 'string') body = value;
  else if (isAsyncIterable(value)) {
    const parts: Buffer[] = [];
    for await (const part of value) parts.push(part as Buffer);
    body = Buffer.concat(parts).toString();
    result = body;
  } else body = JSON.stringify(value);
  const etag = reply.getHeader('etag');
  const kept = body !== null && body.length > RECORDED_BODY_MAX_CHARS ? null : body;
  return { answer: { fingerprint, status: reply.statusCode, etag: typeof etag === 'string' ? etag : null, body: kept }, result };
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
