import { STATUS_CODES } from 'node:http';
import { HttpException } from '@nestjs/common';
import { AppError } from './app-error.js';
import { CODE_BY_STATUS, ERROR_CATALOG, type ErrorCode } from './error-catalog.js';

/** RFC 9457 problem details, with Tessera's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId?: string;
  [extension: string]: unknown;
}

const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
};

function problemOf(code: ErrorCode, detail: string, extensions: Record<string, unknown> = {}): Problem {
  const { status } = ERROR_CATALOG[code];
  return { ...extensions, type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, code };
}

/**
 * Maps anything thrown while serving a request (or a socket event) to a problem.
 * Only catalog errors and well-known framework 4xx carry their message to the
 * client; everything else becomes a bare INTERNAL_ERROR.
 */
export function toProblem(error: unknown): { problem: Problem; internal: boolean } {
  if (error instanceof AppError) {
    return { problem: problemOf(error.code, error.message, error.extensions), internal: false };
  }
  if (error instanceof HttpException) {
    // Nest wraps Fastify's own 4xx errors (body parsing, limits); their code says more than the status.
    if (error.cause && error.cause !== error) {
      const inner = toProblem(error.cause);
      if (!inner.internal) return inner;
    }
    const status = error.getStatus();
    const code = CODE_BY_STATUS[status];
    if (code) return { problem: problemOf(code, ERROR_CATALOG[code].detail), internal: false };
    if (status < 500) return { problem: problemOf('VALIDATION_FAILED', ERROR_CATALOG.VALIDATION_FAILED.detail), internal: false };
  }
  if (isDependencyOutage(error)) {
    return { problem: problemOf('SERVICE_UNAVAILABLE', ERROR_CATALOG.SERVICE_UNAVAILABLE.detail), internal: true };
  }
  const err = error as { code?: unknown; statusCode?: unknown } | null;
  if (err && typeof err.code === 'string' && FASTIFY_CODES[err.code]) {
    const code = FASTIFY_CODES[err.code];
    return { problem: problemOf(code, ERROR_CATALOG[code].detail), internal: false };
  }
  if (error instanceof SyntaxError && err?.statusCode === 400) {
    return { problem: problemOf('MALFORMED_JSON', ERROR_CATALOG.MALFORMED_JSON.detail), internal: false };
  }
  if (err && typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    const code = CODE_BY_STATUS[err.statusCode] ?? 'VALIDATION_FAILED';
    return { problem: problemOf(code, ERROR_CATALOG[code].detail), internal: false };
  }
  return { problem: problemOf('INTERNAL_ERROR', ERROR_CATALOG.INTERNAL_ERROR.detail), internal: true };
}

// P2028: a transaction that could not start (or finish) in time; P2034: a write conflict or deadlock.
const OUTAGE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028', 'P2034', 'P2037']);
const OUTAGE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);
/** Kinds the Prisma pg adapter gives connection-level failures. */
const OUTAGE_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'DatabaseDoesNotExist',
  'DatabaseAccessDenied',
  'AuthenticationFailed',
  'TlsConnectionError',
  'TransactionWriteConflict',
]);
/**
 * SQLSTATE classes of an unavailable server: connection (08), resources (53), operator
 * intervention (57), not accepting connections (55000); and the side of a contention the
 * server failed to resolve it (serialization failure 40001, deadlock 40P01).
 */
const OUTAGE_SQLSTATE = /^(08|53|57)|^55000$|^40001$|^40P01$/;

/**
 * A database or Redis that is down, saturated or too slow, or contention it resolved by failing
 * this request (a deadlock, a transaction that could not start in time): a 503 the caller
 * retries, never a 500.
 */
export function isDependencyOutage(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 5) return false;
  const e = error as {
    name?: string;
    code?: unknown;
    kind?: unknown;
    message?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: unknown };
  };
  if (e.name === 'PrismaClientInitializationError' || e.name === 'MaxRetriesPerRequestError') return true;
  if (typeof e.kind === 'string' && (OUTAGE_ADAPTER_KINDS.has(e.kind) || (e.kind === 'postgres' && OUTAGE_SQLSTATE.test(String(e.code)))))
    return true;
  if (
    typeof e.code === 'string' &&
    (OUTAGE_PRISMA_CODES.has(e.code) || OUTAGE_NODE_CODES.has(e.code) || (/^[0-9A-Z]{5}$/.test(e.code) && OUTAGE_SQLSTATE.test(e.code)))
  ) {
    return true;
  }
  if (
    typeof e.message === 'string' &&
    /Connection is closed|Connection terminated|timeout exceeded when trying to connect/i.test(e.message)
  )
    return true;
  return isDependencyOutage(e.meta?.driverAdapterError, depth + 1) || (e.cause !== error && isDependencyOutage(e.cause, depth + 1));
}
