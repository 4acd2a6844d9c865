import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { catchError, from, mergeMap, throwError, type Observable } from 'rxjs';
import { AppError } from '../errors/app-error.js';
import { isKeyProbeAnswer, RateLimiter } from './rate-limiter.js';

/**
 * Counts lookups of unknown or malformed session keys per IP, so 3-character keys
 * cannot be enumerated: past KEY_PROBE_LIMIT a minute the IP is blocked from key routes.
 */
@Injectable()
export class KeyProbeInterceptor implements NestInterceptor {
  constructor(private readonly limiter: RateLimiter) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    return next.handle().pipe(
      catchError((error: unknown) => {
        if (!(error instanceof AppError) || !isKeyProbeAnswer(error.code) || !request.principal) return throwError(() => error);
        return from(this.limiter.probe(request.principal.ip)).pipe(mergeMap(() => throwError(() => error)));
      }),
    );
  }
}
