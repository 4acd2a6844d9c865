import type { RateLimitedAction } from './rate-limit.policies.js';
import type { Taken } from './rate-limiter.js';

/** The metadata key of `@RateLimit`. */
export const RATE_LIMIT = 'tessera:rate-limit';

export interface RateLimitOptions {
  /** How many units the request takes from the window (a batch of n ops: n edits). */
  cost?: (body: unknown) => number;
  /**
   * Counts only requests answered with this status (201: something was created); any other
   * answer, errors included, gives its units back. HTTP routes only.
   */
  countOnly?: number;
  /** The window is the IP's, even for a caller with a token (registration). */
  perIp?: boolean;
  /** Limits only the calls whose query this accepts (a past view, `?atSeq=`, on the route that serves the present too). */
  only?: (query: unknown) => boolean;
}

/** What `@RateLimit` records on a route or socket event. */
export type RateLimitMetadata = { action: RateLimitedAction } & RateLimitOptions;

declare module 'fastify' {
  interface FastifyRequest {
    /** What the rate-limit guard took for a `countOnly` route, until the answer is known. */
    rateLimitTaken?: Taken | null;
  }
}
