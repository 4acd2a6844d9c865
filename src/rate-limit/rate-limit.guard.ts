import { applyDecorators, Injectable, SetMetadata, UseInterceptors, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.js';
import { GiveBackInterceptor, RATE_LIMIT } from './rate-limit.give-back.interceptor.js';
import type { RateLimitedAction } from './rate-limit.policies.js';
import { RateLimiter, refusal, type Decision, type Taken } from './rate-limiter.js';

export interface RateLimitOptions {
  /** How many units the request takes from the window (a batch of n ops: n edits). */
  cost?: (body: unknown) => number;
  /**
   * Counts only requests answered with this status (201: something was created); any other
   * answer, errors included, gives its units back.
   */
  countOnly?: number;
  /** The window is the IP's, even for a caller with a token (registration). */
  perIp?: boolean;
}

export type RateLimitMetadata = { action: RateLimitedAction } & RateLimitOptions;

declare module 'fastify' {
  interface FastifyRequest {
    /** What the rate-limit guard took for a `countOnly` route, until the answer is known. */
    rateLimitTaken?: Taken | null;
  }
}

/** Limits the route by `action` and the caller's plan (API §8). */
export const RateLimit = (action: RateLimitedAction, options: RateLimitOptions = {}) =>
  options.countOnly === undefined
    ? SetMetadata(RATE_LIMIT, { action, ...options })
    : applyDecorators(SetMetadata(RATE_LIMIT, { action, ...options }), UseInterceptors(GiveBackInterceptor));

/** An anonymous caller from the principal's IP: whose window a per-IP limit takes from. */
export const fromIp = (principal: Principal): Principal => ({ kind: 'anonymous', plan: 'FREE', ip: principal.ip });

/** RateLimit-Limit / -Remaining / -Reset on limited answers; Retry-After on refusals. */
export function sendLimitHeaders(reply: FastifyReply, decision: Decision): void {
  if (decision.outcome === 'allowed') {
    if (decision.limit !== null) {
      void reply.header('ratelimit-limit', decision.limit);
      void reply.header('ratelimit-remaining', decision.remaining);
      void reply.header('ratelimit-reset', decision.resetSeconds);
    }
    return;
  }
  void reply.header('retry-after', decision.retryAfterSeconds);
  if (decision.outcome === 'limited') {
    void reply.header('ratelimit-limit', decision.limit);
    void reply.header('ratelimit-remaining', 0);
    void reply.header('ratelimit-reset', decision.retryAfterSeconds);
  }
}

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
    const limit = this.reflector.get<RateLimitMetadata | undefined>(RATE_LIMIT, context.getHandler());
    let decision: Decision;
    if (limit) {
      const caller = limit.perIp ? fromIp(principal) : principal;
      const cost = limit.cost?.(request.body) ?? 1;
      if (limit.countOnly === undefined) decision = await this.limiter.consume(limit.action, caller, cost, keyRoute);
      else ({ decision, taken: request.rateLimitTaken } = await this.limiter.take(limit.action, caller, cost, keyRoute));
    } else if (keyRoute) decision = await this.limiter.probeBlocked(principal.ip);
    else return true;
    sendLimitHeaders(reply, decision);
    if (decision.outcome === 'allowed') return true;
    throw refusal(decision, limit?.action);
  }
}

/** Units of a batch: one edit per op (bounded like the body itself), one for anything else. */
export const opsCount = (body: unknown) => {
  const ops = (body as { ops?: unknown } | null)?.ops;
  return Array.isArray(ops) ? Math.min(Math.max(ops.length, 1), 500) : 1;
};
