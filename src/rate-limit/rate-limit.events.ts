/** An operator cleared a user's limits: modules that keep windows of their own for that user clear them too. */
export const RATE_LIMITS_RESET = 'rate-limits.reset';

export interface RateLimitsResetEvent {
  userId: string;
}
