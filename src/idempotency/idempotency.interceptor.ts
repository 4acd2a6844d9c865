import { createHash } from 'node:crypto';
import { applyDecorators, Injectable, SetMetadata, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiExtension } from '@nestjs/swagger';
import { IDEMPOTENCY_EXTENSION } from '../common/openapi/api-operation.decorator.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, throwError, type Observable } from 'rxjs';
import { callOf, isRecord } from '../common/call-context.js';
import { IDEMPOTENCY_KEY_PATTERN } from '../common/idempotency-key.js';
import { principalScope } from '../common/principal.js';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { IdempotencyLeases } from './idempotency-lease.js';
import { IdempotencyRecordsRepository, type RecordedAnswer } from './idempotency.repository.js';
import { answerOf, RECORDED_BODY_MAX_CHARS, recordableRefusal } from './recorded-answer.js';
import { KeyAlreadyRecorded, OUTCOME_STATUS, RecordedWrites, type RecordedOutcome } from './recorded-write.js';

const IDEMPOTENT = 'tessera:idempotent';
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Seconds a retry that found its key in use is told to wait. */
const IN_USE_RETRY_SECONDS = 1;

/**
 * How a route's answer is recorded: `answer` in a transaction around the handler, with the
 * answer itself; `with-write` by the route's one block write, in its own statement (see
 * RecordedWrites); `false`: the route takes no key here (it has its own rule).
 */
export type IdempotencyMode = 'answer' | 'with-write' | false;

/**
 * Whether a route or socket event takes an idempotency key, and how it is recorded: every
 * HTTP write under `@Admission()` does (`answer`) unless marked otherwise; a socket event only
 * when marked, and then its payload's `idempotencyKey` is taken out before validation.
 */
export const Idempotent = (mode: IdempotencyMode = 'answer') =>
  applyDecorators(SetMetadata(IDEMPOTENT, mode), ApiExtension(IDEMPOTENCY_EXTENSION, mode === false ? 'none' : mode));

/** One keyed request: whose key, and what it asks (a retry must ask the same). */
export interface Keyed {
  scope: string;
  key: string;
  fingerprint: string;
  mode: 'answer' | 'with-write';
}

/**
 * Every write applied once per (caller, key), on HTTP and sockets alike. The first request
 * runs under a Redis lease (cluster-wide: a retry meanwhile is 409 IDEMPOTENCY_KEY_IN_USE)
 * and its record commits with its write: a block write's statement records its outcome, any
 * other route runs in a transaction that inserts its answer (status, ETag, body) before it
 * commits. The record's primary key lets only one run of a key commit, even when the lease
 * lapsed or Redis was away. A retry with the same method, path and body within 24 h gets the
 * recorded answer with `Idempotent-Replayed: true` (sockets: the same ack) and writes
 * nothing; another request under the key is 422 IDEMPOTENCY_KEY_REUSED. A refusal (4xx) is
 * recorded as well; an answer that failed for a dependency (5xx) or a limit (429) is not, so
 * its retry runs afresh.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly records: IdempotencyRecordsRepository,
    private readonly leases: IdempotencyLeases,
    private readonly tx: TransactionHost,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    let keyed: Keyed | undefined;
    try {
      keyed = keyedRequest(this.reflector, context);
    } catch (error) {
      return throwError(() => error);
    }
    // Without a key the request passes untouched.
    return keyed ? from(this.handle(context, keyed, next)) : next.handle();
  }

  private async handle(context: ExecutionContext, keyed: Keyed, next: CallHandler): Promise<unknown> {
    // A route that records with its write needs no look-up first: a recorded key makes its
    // statement (or the record of its refusal) collide, and the collision is replayed.
    const lookup = keyed.mode === 'with-write' ? null : this.records.find(keyed.scope, keyed.key);
    const [recorded, lease] = await Promise.all([lookup, this.leases.take(keyed.scope, keyed.key, callOf(context).handle)]);
    if (recorded) {
      lease?.release();
      return this.replay(context, keyed, recorded, next);
    }
    if (!lease) {
      callOf(context).header('retry-after', IN_USE_RETRY_SECONDS);
      throw new AppError('IDEMPOTENCY_KEY_IN_USE', undefined, { retryAfter: IN_USE_RETRY_SECONDS });
    }
    try {
      return await this.runOnce(context, keyed, next);
    } finally {
      lease.release();
    }
  }

  /**
   * Runs the handler once with its answer recorded with its write: by the write's own
   * statement (`with-write`), or in a transaction around the handler that inserts the answer
   * before it commits. A refusal (which wrote nothing) is recorded after it.
   */
  private async runOnce(context: ExecutionContext, keyed: Keyed, next: CallHandler, again = true): Promise<unknown> {
    const handled = () => lastValueFrom<unknown, undefined>(next.handle(), { defaultValue: undefined });
    const { scope, key, fingerprint } = keyed;
    try {
      if (keyed.mode === 'with-write') {
        const { value, recorded } = await RecordedWrites.run({ scope, key, fingerprint }, handled);
        if (recorded) return value;
        // The route answered without its write (nothing to record it with): its answer is recorded alone.
        const { answer, result } = await answerOf(context, fingerprint, value);
        if (!(await this.records.insert(scope, key, answer))) throw new KeyAlreadyRecorded();
        return result;
      }
      return await this.tx.run(async () => {
        const { answer, result } = await answerOf(context, fingerprint, await handled());
        if (!(await this.records.insert(scope, key, answer))) throw new KeyAlreadyRecorded();
        return result;
      });
    } catch (error) {
      if (error instanceof KeyAlreadyRecorded) {
        // The key's record was past its window (gone now): the request runs afresh, once.
        const rerun = again ? () => this.runOnce(context, keyed, next, false) : undefined;
        return this.replayRecorded(context, keyed, next, rerun);
      }
      const refusal = recordableRefusal(error);
      if (!refusal) throw error;
      const body = JSON.stringify(refusal);
      if (body.length > RECORDED_BODY_MAX_CHARS) {
        if (await this.records.find(scope, key)) return this.replayRecorded(context, keyed, next);
        throw error;
      }
      const answer = { fingerprint, status: refusal.status, etag: null, body };
      // Not recorded (the database is away): the refusal still stands, and a retry decides afresh.
      const recorded = await this.records.insert(scope, key, answer).catch(() => true);
      if (!recorded) return this.replayRecorded(context, keyed, next);
      throw error;
    }
  }

  private async replayRecorded(
    context: ExecutionContext,
    keyed: Keyed,
    next: CallHandler,
    rerun?: () => Promise<unknown>,
  ): Promise<unknown> {
    const recorded = await this.records.find(keyed.scope, keyed.key);
    if (!recorded && rerun) return rerun();
    if (!recorded) throw new AppError('SERVICE_UNAVAILABLE', 'The first request with this key has just been undone; retry.');
    return this.replay(context, keyed, recorded, next);
  }

  /**
   * The recorded answer, as the first request got it (a refusal: the same problem). A write's
   * recorded outcome goes back through its handler, whose write answers with it.
   */
  private async replay(context: ExecutionContext, keyed: Keyed, recorded: RecordedAnswer, next: CallHandler): Promise<unknown> {
    if (recorded.fingerprint !== keyed.fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED');
    const call = callOf(context);
    call.header('idempotent-replayed', 'true');
    if (recorded.status === OUTCOME_STATUS) {
      const outcome = JSON.parse(recorded.body ?? 'null') as RecordedOutcome;
      return RecordedWrites.replay(outcome, () => lastValueFrom(next.handle(), { defaultValue: undefined }));
    }
    if (recorded.status >= 400) {
      const {
        code,
        detail,
        type: _type,
        title: _title,
        status: _status,
        ...extensions
      } = JSON.parse(recorded.body ?? '{}') as {
        code: AppError['code'];
        detail: string;
        [field: string]: unknown;
      };
      throw new AppError(code, detail, extensions);
    }
    if (call.transport === 'ws') return recorded.body === null ? {} : (JSON.parse(recorded.body) as unknown);
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    void reply.status(recorded.status);
    if (recorded.etag !== null) void reply.header('etag', recorded.etag);
    if (recorded.body === null) return undefined;
    void reply.type('application/json');
    return recorded.body;
  }
}

/** What `keyedRequest` found for a call, by the call's handle: it is read once, by admission or the interceptor. */
const keyedCalls = new WeakMap<object, { keyed?: Keyed; error?: Error }>();

/**
 * The request's key, scope and fingerprint, or undefined when it carries no key (or takes
 * none); a malformed key throws. Found once per call (a socket payload's key is taken out of
 * it), so admission can take the key's lease with its own decision and the interceptor run under it.
 */
export function keyedRequest(reflector: Reflector, context: ExecutionContext): Keyed | undefined {
  const handle = callOf(context).handle;
  let found = keyedCalls.get(handle);
  if (!found) {
    try {
      found = { keyed: findKeyed(reflector, context) };
    } catch (error) {
      found = { error: error as Error };
    }
    keyedCalls.set(handle, found);
  }
  if (found.error !== undefined) throw found.error;
  return found.keyed;
}

function findKeyed(reflector: Reflector, context: ExecutionContext): Keyed | undefined {
  const marked = reflector.get<IdempotencyMode | undefined>(IDEMPOTENT, context.getHandler());
  if (context.getType() === 'ws') {
    if (!marked) return undefined;
    const data: unknown = context.switchToWs().getData();
    if (!isRecord(data) || data.idempotencyKey === undefined) return undefined;
    const key = validKey(data.idempotencyKey, 'idempotencyKey');
    delete data.idempotencyKey;
    const event = String(context.switchToWs().getPattern());
    return { key, scope: principalScope(callOf(context).principal), fingerprint: sha256(['ws', event, data]), mode: marked };
  }
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const mode = marked ?? (WRITE_METHODS.has(request.method) ? 'answer' : false);
  if (!mode) return undefined;
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  const key = validKey(header, 'Idempotency-Key');
  const fingerprint = sha256([request.method, request.url, request.headers['if-match'] ?? null, request.body ?? null]);
  return { key, scope: principalScope(callOf(context).principal), fingerprint, mode };
}

function validKey(value: unknown, field: string): string {
  if (typeof value === 'string' && IDEMPOTENCY_KEY_PATTERN.test(value)) return value;
  throw AppError.validation([{ field, message: 'must be 1 to 255 visible ASCII characters' }]);
}

const sha256 = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');
