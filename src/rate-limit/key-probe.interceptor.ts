import { Injectable, SetMetadata, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, from, mergeMap, throwError, type Observable } from 'rxjs';
import { answeredStatus, callOf } from '../common/call-context.js';
import { AppError } from '../errors/app-error.js';
import { isKeyProbeAnswer, RateLimiter, type LookupTicket } from './rate-limiter.js';

/** The key-probe slot each call took in RateLimitGuard, by the call's handle. */
export const lookupTickets = new WeakMap<object, LookupTicket>();

const KEY_FREE_ON_CREATE = 'tessera:key-free-on-create';

/** A route whose 201 proves its key was free (a PUT that creates): counted as a key-probe miss. */
export const KeyFreeWhenCreated = () => SetMetadata(KEY_FREE_ON_CREATE, true);

/**
 * Settles the key-probe slot a call took: "no such session" (and a PUT that created, which
 * proves the key was free) is a miss, counted before the answer leaves so that the next
 * lookup sees it; anything else gives the slot back.
 */
@Injectable()
export class KeyProbeInterceptor implements NestInterceptor {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const handle = callOf(context).handle;
    const ticket = lookupTickets.get(handle);
    if (!ticket) return next.handle();
    lookupTickets.delete(handle);
    const keyFreeOnCreate = this.reflector.get<boolean | undefined>(KEY_FREE_ON_CREATE, context.getHandler()) === true;
    return next.handle().pipe(
      mergeMap(async (value: unknown) => {
        await this.settle(ticket, keyFreeOnCreate && answeredStatus(context) === 201);
        return value;
      }),
      catchError((error: unknown) =>
        from(this.settle(ticket, error instanceof AppError && isKeyProbeAnswer(error.code))).pipe(mergeMap(() => throwError(() => error))),
      ),
    );
  }

  /** A miss is awaited (the next lookup must see it); a hit's slot is given back without waiting. Never fails the call. */
  private async settle(ticket: LookupTicket, miss: boolean): Promise<void> {
    const settled = this.limiter.settleLookup(ticket, miss).catch(() => undefined);
    if (miss) await settled;
  }
}
