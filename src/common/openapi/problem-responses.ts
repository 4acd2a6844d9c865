import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { ERROR_CATALOG, type ErrorCode } from '../../errors/error-catalog.js';
import type { ConflictCurrent } from './api-operation.decorator.js';

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
      ...((has('RATE_LIMITED') || has('BLOCKED')) && { retryAfter: z.number().optional() }),
    })
    .meta({ description: `RFC 9457 problem details of a ${status}.` });
}

/**
 * `current` of a VERSION_CONFLICT: a reference to the stored resource's component, or one of several;
 * null allowed by a member that admits null only (OpenAPI 3.0 cannot make a reference nullable).
 */
function currentSchema({ components, nullable }: ConflictCurrent): Record<string, unknown> {
  const refs: Record<string, unknown>[] = components.map((name) => ({ $ref: `#/components/schemas/${name}` }));
  const names = components.join(' or ');
  return {
    description: `VERSION_CONFLICT: the stored resource as it is now (${names})${nullable ? '; null when the block was deleted since' : ''}.`,
    ...(refs.length === 1 && !nullable
      ? { allOf: refs }
      : { anyOf: [...refs, ...(nullable ? [{ type: 'object', nullable: true, enum: [null] }] : [])] }),
  };
}

/** The response object of one error status: its codes and their meaning, its body, and headers a client acts on. */
export function problemResponse(status: number, codes: readonly ErrorCode[], conflict?: ConflictCurrent): Record<string, unknown> {
  const sorted = [...codes].sort();
  const schema = z.toJSONSchema(problemSchema(status, sorted), { target: 'openapi-3.0' }) as { properties: Record<string, unknown> };
  if (sorted.includes('VERSION_CONFLICT')) {
    if (!conflict) throw new Error('An operation that answers VERSION_CONFLICT says what its `current` holds (conflict.current)');
    schema.properties.current = currentSchema(conflict);
  }
  return {
    description: sorted.map((code) => `\`${code}\`: ${ERROR_CATALOG[code].detail}`).join('\n\n'),
    ...(status === 429 && { headers: { 'Retry-After': RETRY_AFTER, ...LIMIT_HEADERS } }),
    ...(status === 405 && { headers: { Allow: { description: 'The methods this path accepts.', schema: { type: 'string' } } } }),
    content: { 'application/problem+json': { schema } },
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
