import { applyDecorators } from '@nestjs/common';
import { ApiExtension, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { z } from 'zod';
import type { ErrorCode } from '../../errors/error-catalog.js';

/**
 * Who may call: `none` (no token needed, none checked beyond a present one), `optional`
 * (anonymous callers too, a user token when given), `user` (a user token), `admin` (ADMIN_TOKEN),
 * `metrics` (METRICS_TOKEN when it is set).
 */
export type OperationAuth = 'none' | 'optional' | 'user' | 'admin' | 'metrics';

export interface SuccessDoc {
  description: string;
  /** The body's zod schema; none for 204. */
  schema?: z.ZodType;
  example?: unknown;
  /** Response headers worth a client's attention, e.g. ETag. */
  headers?: Record<string, { description: string }>;
}

export interface OperationDoc {
  /** The operationId: a verb and a noun, camelCase (`getSession`), unique in the document. */
  id: string;
  summary: string;
  description: string;
  auth: OperationAuth;
  /** Every success status the route answers. */
  responses: Partial<Record<200 | 201 | 202 | 204, SuccessDoc>>;
  /**
   * The route's own error codes. The ones every route of its kind gives are added from what the
   * document already knows (body, session key, query, auth): see describeErrors.
   */
  errors?: ErrorCode[];
  /** An example request body. */
  requestExample?: unknown;
  /**
   * With VERSION_CONFLICT: what the answer's `current` holds, one of these schemas (each with a
   * component id, e.g. BlockSchema), or null when `nullable` (a block deleted since).
   */
  conflict?: { current: z.ZodType[]; nullable?: boolean };
}

/** What the document builder reads back and removes: the parts a decorator cannot write alone. */
export const OPERATION_EXTENSION = 'x-tessera-operation';

/**
 * Set by `@RateLimit` on the routes it limits (the action's name), so the document says 429
 * RATE_LIMITED and BLOCKED exactly where the limiter can answer them; read back and removed.
 */
export const RATE_LIMIT_EXTENSION = 'x-tessera-rate-limit';

/**
 * How a route takes an `Idempotency-Key` (`answer`, `with-write`, or `none`): set by `@Admission()`
 * on its routes and by `@Idempotent()` on one route, so the document shows the header and its
 * errors exactly where the interceptor honours it; read back and removed.
 */
export const IDEMPOTENCY_EXTENSION = 'x-tessera-idempotency';

/** `current` of a VERSION_CONFLICT answer, by component name. */
export interface ConflictCurrent {
  components: string[];
  nullable: boolean;
}

export interface OperationExtension {
  auth: OperationAuth;
  errors: ErrorCode[];
  requestExample?: unknown;
  conflict?: ConflictCurrent;
}

function componentName(schema: z.ZodType): string {
  const id = z.globalRegistry.get(schema)?.id;
  if (!id) throw new Error("A conflict's `current` schema needs an id (.meta({ id }))");
  return id;
}

/** Documents one route: its operationId, summary, description, success bodies (from zod) and error codes. */
export function ApiOperationDoc(doc: OperationDoc): MethodDecorator {
  const successes = Object.entries(doc.responses).map(([status, response]) =>
    ApiResponse({
      status: Number(status),
      description: response.description,
      ...(response.schema && { standardSchema: response.schema as never }),
      ...(response.example !== undefined && { example: response.example as unknown }),
      ...(response.headers && {
        headers: Object.fromEntries(Object.entries(response.headers).map(([n, h]) => [n, { ...h, schema: { type: 'string' } }])),
      }),
    }),
  );
  const extension: OperationExtension = {
    auth: doc.auth,
    errors: doc.errors ?? [],
    ...(doc.requestExample !== undefined && { requestExample: doc.requestExample }),
    ...(doc.conflict && { conflict: { components: doc.conflict.current.map(componentName), nullable: doc.conflict.nullable ?? false } }),
  };
  return applyDecorators(
    ApiOperation({ operationId: doc.id, summary: doc.summary, description: doc.description }),
    ...successes,
    ApiExtension(OPERATION_EXTENSION, extension),
  );
}
