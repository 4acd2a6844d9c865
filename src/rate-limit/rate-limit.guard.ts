import {
  applyDecorators,
  Injectable,
  SetMetadata,
  UseGuards,
  UseInterceptors,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiExtension } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { Principal } from '../common/principal.js';
import { callOf, type Call } from '../common/call-context.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { IdempotencyInterceptor, keyedRequest } from '../idempotency/idempotency.interceptor.js';
import { admitLease, LEASE_MS, leaseName } from '../idempotency/idempotency-lease.js';
import { KeyProbeInterceptor, lookupTickets } from './key-probe.interceptor.js';
import { GiveBackInterceptor } from './rate-limit.give-back.interceptor.js';
import { RATE_LIMIT, type RateLimitMetadata, type RateLimitOptions } from './rate-limit.metadata.js';
import type { RateLimitedAction } from './rate-limit.policies.js';
import {
  RateLimiter,
  refusal,
  type Decision,
  type LeaseAsk,
  type LeaseOutcome,
  type LookupTicket,
  type Take,
  type Taken,
} from './rate-limiter.js';
import { isValidSessionKey } from '../common/session-key-format.js';
import { IDEMPOTENCY_EXTENSION, RATE_LIMIT_EXTENSION } from '../common/openapi/api-operation.decorator.js';

/** Marks a controller or gateway under `@Admission()`: its writes run under IdempotencyInterceptor. */
const ADMISSION = 'tessera:admission';

/** The longest a lookup waits between two tries for a probe slot that other instances hold. */
const SLOT_RETRY_MAX_MS = 100;

/** Limits the route or socket event by `action` and the caller's plan. */
export const RateLimit = (action: RateLimitedAction, options: RateLimitOptions = {}) =>
  applyDecorators(
    SetMetadata(RATE_LIMIT, { action, ...options }),
    ApiExtension(RATE_LIMIT_EXTENSION, action),
    ...(options.countOnly === undefined ? [] : [UseInterceptors(GiveBackInterceptor)]),
  );

/**
 * The admission of every route and socket event that names a session key or is rate
 * limited, the same for HTTP and sockets: the key's format, the key-probe guard, then the
 * rate limit; then a write's idempotency key (IdempotencyInterceptor), whose in-flight lease
 * is taken in the same Redis script as the key-probe and rate-limit decision. Apply with
 * `@Admission()` on a controller or gateway.
 */
export const Admission = () =>
  applyDecorators(
    SetMetadata(ADMISSION, true),
    UseGuards(RateLimitGuard),
    UseInterceptors(KeyProbeInterceptor, IdempotencyInterceptor),
    // Every write route under it takes an idempotency key unless its own @Idempotent() says otherwise.
    ApiExtension(IDEMPOTENCY_EXTENSION, 'answer'),
  );

/** An anonymous caller from the principal's IP: whose window a per-IP limit takes from. */
export const fromIp = (principal: Principal): Principal => ({ kind: 'anonymous', plan: 'FREE', ip: principal.ip });

/** RateLimit-Limit / -Remaining / -Reset on limited answers; Retry-After on refusals. */
export function sendLimitHeaders(reply: FastifyReply, decision: Decision): void {
  limitHeaders((name, value) => void reply.header(name, value), decision);
}

function limitHeaders(header: Call['header'], decision: Decision): void {
  if (decision.outcome === 'allowed') {
    if (decision.limit !== null) {
      header('ratelimit-limit', decision.limit);
      header('ratelimit-remaining', decision.remaining);
      header('ratelimit-reset', decision.resetSeconds);
    }
    return;
  }
  header('retry-after', decision.retryAfterSeconds);
  if (decision.outcome === 'limited') {
    header('ratelimit-limit', decision.limit);
    header('ratelimit-remaining', 0);
    header('ratelimit-reset', decision.retryAfterSeconds);
  }
}

/**
 * Runs after authentication. A malformed key is a probe miss and 400 INVALID_SESSION_KEY
 * before anything else runs; a well-formed one takes a key-probe slot (settled by
 * KeyProbeInterceptor); then the action's windows are consumed. Limited responses carry
 * RateLimit-Limit / -Remaining / -Reset; refusals Retry-After (HTTP) or `retryAfter` (acks).
 * A write with an idempotency key asks for its lease with that decision (one round trip to
 * Redis for both): an allowed call takes it, a refused one takes none.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const call = callOf(context);
    const limit = this.reflector.get<RateLimitMetadata | undefined>(RATE_LIMIT, context.getHandler());
    const limited = limit !== undefined && this.limiter.enabled && (limit.only?.(call.query) ?? true);
    if (call.takesKey && !isValidSessionKey(call.key)) {
      // A malformed key is answered without a lookup (nor a unit of the window), and counted as a miss like an unknown one.
      const { ticket } = await this.reserveSlot(call);
      if (ticket) await this.limiter.settleLookup(ticket, true);
      throw new AppError('INVALID_SESSION_KEY');
    }
    let ticket: LookupTicket | undefined;
    let take: Take | undefined;
    let leased: LeaseOutcome | undefined;
    const lease = this.leaseOf(context);
    if ((call.takesKey || call.takesInviteToken) && limited) ({ ticket, take } = await this.admitBoth(call, limit, lease));
    else if (call.takesKey || call.takesInviteToken) ({ ticket, lease: leased } = await this.reserveSlot(call, lease));
    else if (limited) take = await this.decide(call, limit, lease);
    leased ??= take?.lease;
    if (lease && leased) admitLease(call.handle, lease.name, leased);
    if (take) {
      limitHeaders((name, value) => call.header(name, value), take.decision);
      if (take.decision.outcome !== 'allowed') throw refusal(take.decision, limit?.action);
      if (take.taken && countsOnlyAnswers(call, limit)) (call.handle as { rateLimitTaken?: Taken | null }).rateLimitTaken = take.taken;
    }
    if (ticket) lookupTickets.set(call.handle, ticket);
    return true;
  }

  /** The idempotency lease a keyed write asks for with its admission (a malformed key asks none: the interceptor refuses it). */
  private leaseOf(context: ExecutionContext): LeaseAsk | undefined {
    if (this.reflector.get<boolean | undefined>(ADMISSION, context.getClass()) !== true) return undefined;
    try {
      const keyed = keyedRequest(this.reflector, context);
      return keyed && { name: leaseName(keyed.scope, keyed.key), ms: LEASE_MS };
    } catch {
      return undefined;
    }
  }

  /** The probe slot and the window decision in one step (one round trip to Redis), waiting for a slot like `reserveSlot`. */
  private async admitBoth(call: Call, limit: RateLimitMetadata, lease?: LeaseAsk): Promise<{ ticket?: LookupTicket; take: Take }> {
    const caller = limit.perIp ? fromIp(call.principal) : call.principal;
    const cost = limit.cost?.(call.body) ?? 1;
    const admit = () => this.limiter.takeWithLookup(limit.action, caller, cost, lease);
    let admitted = await admit();
    const deadline = performance.now() + this.config.KEY_PROBE_WAIT_MS;
    for (let attempt = 1; admitted.probe.outcome === 'limited'; attempt++) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.limiter.slotFreed(call.principal.ip, Math.min(left, attempt * 10, SLOT_RETRY_MAX_MS));
      admitted = await admit();
    }
    if (admitted.probe.outcome !== 'allowed') throw this.probeRefusal(call, admitted.probe);
    return { ticket: admitted.ticket, take: admitted };
  }

  /** The action's windows: `take` (which remembers what it took) for a countOnly route, whose units may go back. */
  private decide(call: Call, limit: RateLimitMetadata, lease?: LeaseAsk): Promise<Take> {
    const caller = limit.perIp ? fromIp(call.principal) : call.principal;
    const cost = limit.cost?.(call.body) ?? 1;
    if (countsOnlyAnswers(call, limit)) return this.limiter.take(limit.action, caller, cost, lease);
    return this.limiter.consumeLeased(limit.action, caller, cost, lease).then(({ decision, lease }) => ({ decision, taken: null, lease }));
  }

  /** Takes one of the IP's key-probe slots (no ticket with limits off) and the lease asked for, or throws the refusal. */
  private async reserveSlot(call: Call, lease?: LeaseAsk): Promise<{ ticket?: LookupTicket; lease?: LeaseOutcome }> {
    const ip = call.principal.ip;
    let { decision, ticket, lease: leased } = await this.limiter.reserveLookup(ip, lease);
    // Every slot held by lookups in flight (a busy IP, e.g. a shared NAT): hits settle within
    // milliseconds, so an honest burst waits for slots to free rather than being refused.
    const deadline = performance.now() + this.config.KEY_PROBE_WAIT_MS;
    for (let attempt = 1; decision.outcome === 'limited'; attempt++) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.limiter.slotFreed(ip, Math.min(left, attempt * 10, SLOT_RETRY_MAX_MS));
      ({ decision, ticket, lease: leased } = await this.limiter.reserveLookup(ip, lease));
    }
    if (decision.outcome === 'allowed') return { ticket, lease: leased };
    throw this.probeRefusal(call, decision);
  }

  private probeRefusal(call: Call, decision: Exclude<Decision, { outcome: 'allowed' }>): AppError {
    call.header('retry-after', decision.retryAfterSeconds);
    return decision.outcome === 'limited'
      ? new AppError('RATE_LIMITED', 'Too many lookups of session keys in flight from this address; retry in a second.', {
          retryAfter: decision.retryAfterSeconds,
        })
      : refusal(decision);
  }
}

/** A `countOnly` route over HTTP: its units go back unless the answer has that status (GiveBackInterceptor). */
const countsOnlyAnswers = (call: Call, limit?: RateLimitMetadata) => limit?.countOnly !== undefined && call.transport === 'http';

/** Units of a batch: one edit per op (bounded like the body itself), one for anything else. */
export const opsCount = (body: unknown) => {
  const ops = (body as { ops?: unknown } | null)?.ops;
  return Array.isArray(ops) ? Math.min(Math.max(ops.length, 1), 500) : 1;
};
