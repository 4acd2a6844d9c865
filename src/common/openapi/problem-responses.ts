import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { ERROR_CATALOG, type ErrorCode } from '../../errors/error-catalog.js';

const RETRY_AFTER = { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 0 } };
const LIMIT_HEADERS = {
  'RateLimit-Limit': { description: "The window's limit (when a window refused it).", schema: { type: 'integer', minimum: 0 } },
  'RateLimit-Remaining': { description: 'Units left in the window.', schema: { type: 'integer', minimum: 0 } },
  'RateLimit-Reset': { description: 'Seconds until the window has room again.', schema: { type: 'integer', minimum: 0 } },
};

/** The problem+json body of one status, with `code` limited to the codes this operation gives with it. */
export function problemSchema(status: number, codes: readonly ErrorCode[]): z.ZodType {
  const has = (code: ErrorCode) => codes.includes(code);
  return z
    .looseObject({
      type: z.string().meta({ description: '`about:blank`, or a URL documenting the problem.' }),
      title: z.string().meta({ example: STATUS_CODES[status] }),
      status: z.literal(status),
      detail: z.string().meta({ description: 'A sentence for people; may change.' }),
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]).meta({ description: 'Stable, for programs.' }),
      requestId: z.string().optional(),
      ...(has('VALIDATION_FAILED') && {
        errors: z
          .array(z.object({ field: z.string(), message: z.string() }))
          .optional()
          .meta({ description: 'VALIDATION_FAILED: what is wrong, field by field (`content.text`, `If-Match`, ...).' }),
      }),
      ...(has('VERSION_CONFLICT') && {
        current: z.record(z.string(), z.unknown()).nullable().optional().meta({
          description:
            'VERSION_CONFLICT: the stored resource (a session without its blocks, or a block); null when an undo or redo finds the block deleted since.',
        }),
      }),
      ...((has('RATE_LIMITED') || has('BLOCKED')) && { retryAfter: z.number().optional() }),
    })
    .meta({ description: `RFC 9457 problem details of a ${status}.` });
}

/** The response object of one error status: its codes and their meaning, its body, and headers a client acts on. */
export function problemResponse(status: number, codes: readonly ErrorCode[]): Record<string, unknown> {
  const sorted = [...codes].sort();
  return {
    description: sorted.map((code) => `\`${code}\`: ${ERROR_CATALOG[code].detail}`).join('\n\n'),
    ...(status === 429 && { headers: { 'Retry-After': RETRY_AFTER, ...LIMIT_HEADERS } }),
    ...(status === 405 && { headers: { Allow: { description: 'The methods this path accepts.', schema: { type: 'string' } } } }),
    content: { 'application/problem+json': { schema: z.toJSONSchema(problemSchema(status, sorted), { target: 'openapi-3.0' }) } },
  };
}

/** Codes grouped by their HTTP status. */
export function byStatus(codes: Iterable<ErrorCode>): Map<number, ErrorCode[]> {
  const groups = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const { status } = ERROR_CATALOG[code];
    groups.set(status, [...(groups.get(status) ?? []), code]);
  }
  return groups;
}
