import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catchError, from, mergeMap, throwError, type Observable } from 'rxjs';
import { keyedRequest } from '../idempotency/idempotency.interceptor.js';
import { recordableRefusal } from '../idempotency/recorded-answer.js';
import { RATE_LIMIT, type RateLimitMetadata } from './rate-limit.metadata.js';
import { RateLimiter } from './rate-limiter.js';

/**
 * For routes limited with `countOnly`: once the answer is known, gives the units back
 * unless it has that status, so a PUT that opens an existing session, an idempotent
 * replay or a refused request does not use up the window. A refusal under an
 * idempotency key is the exception: it is recorded, so it counts.
 */
@Injectable()
export class GiveBackInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const countOnly = this.reflector.get<RateLimitMetadata | undefined>(RATE_LIMIT, context.getHandler())?.countOnly;
    const giveBack = async () => {
      const taken = request.rateLimitTaken;
      request.rateLimitTaken = null;
      if (!taken) return;
      await this.limiter.giveBack(taken);
      const remaining = Number(reply.getHeader('ratelimit-remaining'));
      if (Number.isFinite(remaining)) void reply.header('ratelimit-remaining', remaining + taken.cost);
    };
    return next.handle().pipe(
      mergeMap(async (value: unknown) => {
        if (reply.statusCode !== countOnly) await giveBack();
        return value;
      }),
      catchError((error: unknown) => {
        // A refusal under an Idempotency-Key is recorded for 24 h: it keeps its unit, so keys cannot store refusals for free.
        if (recordableRefusal(error) && keyedRequest(this.reflector, context)) return throwError(() => error);
        return from(giveBack()).pipe(mergeMap(() => throwError(() => error)));
      }),
    );
  }
}
