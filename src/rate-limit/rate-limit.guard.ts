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
import { callOf, type Call } from '../common/call-context.js';
import { AppError } from '../errors/app-error.js';
import { isValidSessionKey } from '../sessions/session-key.js';
import { KeyProbeInterceptor, lookupTickets } from './key-probe.interceptor.js';
import type { RateLimitedAction } from './rate-limit.policies.js';
import { RateLimiter, refusal, type Decision } from './rate-limiter.js';

interface RateLimitOptions {
  /** How many units the request takes from the window (a batch of n ops: n edits). */
  cost?: (body: unknown) => number;
}

const RATE_LIMIT = 'tessera:rate-limit';

/** Limits the route or socket event by `action` and the caller's plan. */
export const RateLimit = (action: RateLimitedAction, options: RateLimitOptions = {}) => SetMetadata(RATE_LIMIT, { action, ...options });

/**
 * The admission of every route and socket event that names a session key or is rate
 * limited, the same for HTTP and sockets: the key's format, the key-probe guard, then the
 * rate limit. Apply with `@Admission()` on a controller or gateway.
 */
export const Admission = () => applyDecorators(UseGuards(RateLimitGuard), UseInterceptors(KeyProbeInterceptor));

/**
 * Runs after authentication. A malformed key is a probe miss and 400 INVALID_SESSION_KEY
 * before anything else runs; a well-formed one takes a key-probe slot (settled by
 * KeyProbeInterceptor); then the action's windows are consumed. Limited responses carry
 * RateLimit-Limit / -Remaining / -Reset; refusals Retry-After (HTTP) or `retryAfter` (acks).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const call = callOf(context);
    if (call.takesKey) await this.admitKey(call);
    const limit = this.reflector.get<({ action: RateLimitedAction } & RateLimitOptions) | undefined>(RATE_LIMIT, context.getHandler());
    if (!limit || !this.limiter.enabled) return true;
    const decision = await this.limiter.consume(limit.action, call.principal, limit.cost?.(call.body) ?? 1);
    if (decision.outcome === 'allowed') {
      if (decision.limit !== null) {
        call.header('ratelimit-limit', decision.limit);
        call.header('ratelimit-remaining', decision.remaining);
        call.header('ratelimit-reset', decision.resetSeconds);
      }
      return true;
    }
    // The lookup will not run: its key-probe slot goes back.
    const ticket = lookupTickets.get(call.handle);
    if (ticket) void this.limiter.settleLookup(ticket, false).catch(() => undefined);
    lookupTickets.delete(call.handle);
    throw this.refuse(call, decision, limit.action);
  }

  private async admitKey(call: Call): Promise<void> {
    const { decision, ticket } = await this.limiter.reserveLookup(call.principal.ip);
    if (decision.outcome !== 'allowed') throw this.refuse(call, decision);
    if (!isValidSessionKey(call.key)) {
      // A malformed key is answered without a lookup, and counted as a miss like an unknown one.
      if (ticket) await this.limiter.settleLookup(ticket, true);
      throw new AppError('INVALID_SESSION_KEY');
    }
    if (ticket) lookupTickets.set(call.handle, ticket);
  }

  private refuse(call: Call, decision: Exclude<Decision, { outcome: 'allowed' }>, action?: RateLimitedAction): AppError {
    call.header('retry-after', decision.retryAfterSeconds);
    if (decision.outcome === 'limited' && action) {
      call.header('ratelimit-limit', decision.limit);
      call.header('ratelimit-remaining', 0);
      call.header('ratelimit-reset', decision.retryAfterSeconds);
    }
    if (decision.outcome === 'limited' && !action) {
      return new AppError('RATE_LIMITED', 'Too many lookups of session keys in flight from this address; retry in a second.', {
        retryAfter: decision.retryAfterSeconds,
      });
    }
    return refusal(decision, action);
  }
}

/** Units of a batch: one edit per op (bounded like the body itself), one for anything else. */
export const opsCount = (body: unknown) => {
  const ops = (body as { ops?: unknown } | null)?.ops;
  return Array.isArray(ops) ? Math.min(Math.max(ops.length, 1), 500) : 1;
};
