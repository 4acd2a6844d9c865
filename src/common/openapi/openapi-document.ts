import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { ErrorCode } from '../../errors/error-catalog.js';
import { SESSION_KEY_PATTERN } from '../session-key-format.js';
import {
  IDEMPOTENCY_EXTENSION,
  OPERATION_EXTENSION,
  RATE_LIMIT_EXTENSION,
  type OperationAuth,
  type OperationExtension,
} from './api-operation.decorator.js';
import { byStatus, problemResponse } from './problem-responses.js';

type Json = Record<string, unknown>;
interface Parameter {
  name: string;
  in: string;
  description?: string;
}
/** The parts of an operation object this module reads and writes. */
interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { example?: unknown }> };
  responses: Record<string, unknown>;
  security?: Json[];
  [extension: string]: unknown;
}

const SECURITY: Record<OperationAuth, Json[]> = {
  none: [],
  optional: [{}, { bearer: [] }],
  user: [{ bearer: [] }],
  admin: [{ adminToken: [] }],
  metrics: [{}, { metricsToken: [] }],
};

const TAGS: Record<string, string> = {
  auth: 'Accounts and access tokens.',
  sessions: 'Sessions: shareable documents addressed by short keys, and their change log.',
  blocks: 'The ordered, versioned blocks of a session. Every write names the version it is based on.',
  members: 'Members, roles and invitations of a session.',
  webhooks: 'Signed deliveries of changes and job outcomes to a URL, and their delivery log.',
  snapshots: 'Restore points of a session.',
  jobs: 'Background work (exports, generation) and its state.',
  artifacts: 'Files that jobs produce, and their signed download URLs.',
  themes: 'Built-in and operator themes.',
  health: 'Liveness, readiness and the overall state, for probes and people.',
  admin: 'Operator routes (ADMIN_TOKEN).',
  metrics: 'The Prometheus scrape endpoint.',
};

/** Header and parameter shapes the server checks, so clients and fuzzers send only what it accepts. */
const PARAMETER_SCHEMAS: Record<string, Json> = {
  'path:key': {
    description: 'The session key, as in a `?=KEY` link.',
    schema: { type: 'string', pattern: SESSION_KEY_PATTERN.source, example: 'K7Q' },
  },
  'header:If-Match': {
    description: 'The version the write is based on, `"<n>"`, instead of (or equal to) the body `version`.',
    schema: { type: 'string', pattern: '^\\s*(W/)?"?[0-9]{1,9}"?\\s*$', example: '"3"' },
  },
  'header:Idempotency-Key': {
    description:
      '1 to 255 visible ASCII characters. A retry with the same key, method, path and body within 24 h gets the first answer ' +
      '(`Idempotent-Replayed: true`) and writes nothing; another request under the key: 422 IDEMPOTENCY_KEY_REUSED; ' +
      'while the first still runs: 409 IDEMPOTENCY_KEY_IN_USE with Retry-After.',
    schema: { type: 'string', pattern: '^[!-~]{1,255}$', minLength: 1, maxLength: 255, example: 'create-7f3a' },
  },
  'query:cursor': {
    description: '`nextCursor` of the previous page.',
    schema: { type: 'string', maxLength: 512 },
  },
  'query:version': {
    description: 'The version the delete is based on, instead of If-Match.',
    schema: { type: 'integer', minimum: 1 },
  },
};

/** Fastify parses a body sent with any of these methods, whether the route reads one or not. */
const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete']);
const BODY_CODES: ErrorCode[] = ['VALIDATION_FAILED', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];
const KEY_CODES: ErrorCode[] = ['INVALID_SESSION_KEY', 'SESSION_NOT_FOUND', 'RATE_LIMITED', 'BLOCKED'];
const AUTH_CODES: Record<OperationAuth, ErrorCode[]> = {
  none: ['INVALID_TOKEN'],
  optional: ['INVALID_TOKEN'],
  user: ['INVALID_TOKEN', 'AUTH_REQUIRED'],
  admin: ['INVALID_TOKEN', 'ADMIN_TOKEN_REQUIRED', 'FORBIDDEN'],
  metrics: [],
};

/** The codes every operation of a kind gives: from its access rule, its body, its parameters and its limits. */
function errorCodes(
  method: string,
  operation: Operation,
  extension: OperationExtension,
  rateLimited: boolean,
  idempotent: boolean,
): Set<ErrorCode> {
  const codes = new Set<ErrorCode>([...extension.errors, ...AUTH_CODES[extension.auth], 'SERVICE_UNAVAILABLE']);
  const add = (more: ErrorCode[]) => more.forEach((code) => codes.add(code));
  if (operation.requestBody || BODY_METHODS.has(method)) add(BODY_CODES);
  const parameters = operation.parameters ?? [];
  if (parameters.some((p) => p.in === 'query' || p.in === 'header' || (p.in === 'path' && p.name !== 'key'))) add(['VALIDATION_FAILED']);
  if (parameters.some((p) => p.in === 'path' && p.name === 'key')) add(KEY_CODES);
  if (rateLimited) add(['RATE_LIMITED', 'BLOCKED']);
  if (idempotent) add(['IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_IN_USE']);
  return codes;
}

function completeOperation(method: string, operation: Operation): void {
  const extension = operation[OPERATION_EXTENSION] as OperationExtension | undefined;
  const rateLimited = operation[RATE_LIMIT_EXTENSION] !== undefined;
  const idempotency = operation[IDEMPOTENCY_EXTENSION];
  delete operation[RATE_LIMIT_EXTENSION];
  delete operation[IDEMPOTENCY_EXTENSION];
  if (!extension) return;
  delete operation[OPERATION_EXTENSION];
  const idempotent = BODY_METHODS.has(method) && (idempotency === 'answer' || idempotency === 'with-write');
  if (idempotent && !operation.parameters?.some((p) => p.in === 'header' && p.name === 'Idempotency-Key')) {
    (operation.parameters ??= []).push({ name: 'Idempotency-Key', in: 'header' });
  }
  operation.security = SECURITY[extension.auth];
  for (const parameter of operation.parameters ?? []) {
    const known = PARAMETER_SCHEMAS[`${parameter.in}:${parameter.name}`];
    if (known) Object.assign(parameter, { ...known, description: parameter.description ?? (known.description as string | undefined) });
  }
  if (extension.requestExample !== undefined) {
    const media = operation.requestBody?.content?.['application/json'];
    if (media) media.example = extension.requestExample;
  }
  for (const [status, codes] of [...byStatus(errorCodes(method, operation, extension, rateLimited, idempotent))].sort(
    ([a], [b]) => a - b,
  )) {
    operation.responses[String(status)] = problemResponse(status, codes, extension.conflict);
  }
}

/**
 * The OpenAPI document of every route: the framework's scan (paths, parameters, request bodies
 * from the zod schemas routes validate with), completed by what each route's @ApiOperationDoc
 * says (success bodies from zod, error codes, security).
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('Tessera')
    .setDescription(
      'The backend of a real-time collaborative block editor: sessions addressed by short keys, made of ordered, ' +
        'versioned blocks. Errors are RFC 9457 problem+json with a stable `code`; every write names the version it is based on.',
    )
    .setVersion('1')
    .addServer('/', 'This server')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A user access token (register or log in).' },
      'bearer',
    )
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The operators’ ADMIN_TOKEN.' }, 'adminToken')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when it is set.' }, 'metricsToken');
  for (const [name, description] of Object.entries(TAGS)) builder.addTag(name, description);
  const document = SwaggerModule.createDocument(app, builder.build());
  const seen = new Set<string>();
  // One handler on two paths (`/health` and `/api/health`): the /api one keeps the id, the other names its path.
  const paths = Object.entries(document.paths).sort(([a], [b]) => Number(b.startsWith('/api/')) - Number(a.startsWith('/api/')));
  for (const [path, item] of paths) {
    for (const [method, value] of Object.entries(item as Json)) {
      const operation = value as Operation | null;
      if (!operation || typeof operation !== 'object' || typeof operation.operationId !== 'string') continue;
      completeOperation(method, operation);
      let id = operation.operationId;
      if (seen.has(id)) id += `At${path.replace(/\W+(\w)/g, (_m, c: string) => c.toUpperCase())}`;
      operation.operationId = id;
      seen.add(id);
    }
  }
  document.info.license = { name: 'UNLICENSED' };
  return tidySchemas(document);
}

/**
 * Two fixes to zod's OpenAPI 3.0 output: `{allOf: [{$ref}]}` with nothing beside it (its way to
 * reference an optional schema) is the reference itself, and a nullable enum lists `null` (else
 * validators refuse the null that `nullable` allows).
 */
function tidySchemas<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => tidySchemas(v)) as T;
  if (!value || typeof value !== 'object') return value;
  const entries = Object.entries(value).map(([k, v]) => [k, tidySchemas(v)] as const);
  const object: Json = Object.fromEntries(entries);
  const { allOf, nullable } = object;
  if (Object.keys(object).length === 1 && Array.isArray(allOf) && allOf.length === 1) return allOf[0] as T;
  if (nullable === true && Array.isArray(object.enum) && !object.enum.includes(null)) object.enum = [...(object.enum as unknown[]), null];
  return object as T;
}
