import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitedAction } from './rate-limit.policies.js';
import { RateLimiter, refusal, type Decision } from './rate-limiter.js';

interface RateLimitOptions {
  /** How many units the request takes from the window (a batch of n ops: n edits). */
  cost?: (body: unknown) => number;
}

const RATE_LIMIT = 'tessera:rate-limit';

/** Limits the route by `action` and the caller's plan (API §8). */
export const RateLimit = (action: RateLimitedAction, options: RateLimitOptions = {}) => SetMetadata(RATE_LIMIT, { action, ...options });

/**
 * Runs after authentication, on the controllers that use it: takes the route's action
 * from the caller's windows, and refuses key routes to an IP blocked for probing keys.
 * Limited responses carry RateLimit-Limit / -Remaining / -Reset; refusals Retry-After.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.limiter.enabled) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const principal = request.principal;
    if (!principal) throw new Error('AuthGuard did not run before RateLimitGuard');
    const keyRoute = (request.params as Record<string, unknown> | undefined)?.key !== undefined;
    const limit = this.reflector.get<({ action: RateLimitedAction } & RateLimitOptions) | undefined>(RATE_LIMIT, context.getHandler());
    let decision: Decision;
    if (limit) decision = await this.limiter.consume(limit.action, principal, limit.cost?.(request.body) ?? 1, keyRoute);
    else if (keyRoute) decision = await this.limiter.probeBlocked(principal.ip);
    else return true;
    if (decision.outcome === 'allowed') {
      if (decision.limit !== null) {
        void reply.header('ratelimit-limit', decision.limit);
        void reply.header('ratelimit-remaining', decision.remaining);
        void reply.header('ratelimit-reset', decision.resetSeconds);
      }
      return true;
    }
    void reply.header('retry-after', decision.retryAfterSeconds);
    if (decision.outcome === 'limited') {
      void reply.header('ratelimit-limit', decision.limit);
      void reply.header('ratelimit-remaining', 0);
      void reply.header('ratelimit-reset', decision.retryAfterSeconds);
    }
    throw refusal(decision, limit?.action);
  }
}

/** Units of a batch: one edit per op (bounded like the body itself), one for anything else. */
export const opsCount = (body: unknown) => {
  const ops = (body as { ops?: unknown } | null)?.ops;
  return Array.isArray(ops) ? Math.min(Math.max(ops.length, 1), 500) : 1;
};
