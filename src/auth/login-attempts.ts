import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { fromIp } from '../rate-limit/rate-limit.guard.js';
import { RateLimiter, type Decision, type Taken } from '../rate-limit/rate-limiter.js';
import type { Principal } from '../common/principal.js';
import { UsersRepository } from './users.repository.js';
import { OnAppEvent, type RateLimitsResetEvent } from '../events/app-events.js';

/**
 * The window of failed logins naming one account, keyed by its normalised email whether or
 * not the account exists (so the answers never tell), and hashed so no address is stored in Redis.
 */
export const accountIdentity = (email: string) => `account:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`;

export interface LoginAttempt {
  /** The window closest to refusing (RateLimit-* headers of a failed login). */
  decision: Decision;
  /** The IP's window once this attempt's unit is back (those of a successful login). */
  afterSuccess: Decision;
  ip: Taken | null;
  account: Taken | null;
  accountIdentity: string;
}

/**
 * Failed logins per IP and per account. A unit is taken from both windows *before* the
 * password is checked, so parallel guesses can never pass the limit, and while either
 * window is exhausted even the right password is refused. A right password gives the IP's
 * unit back and clears the account's window; anything that is not a verdict on the
 * password (an outage) gives both back.
 */
@Injectable()
export class LoginAttempts {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly users: UsersRepository,
  ) {}

  /** Takes the attempt's units, or answers the refusing decision. */
  async begin(principal: Principal, email: string): Promise<LoginAttempt | { refused: Exclude<Decision, { outcome: 'allowed' }> }> {
    const ip = await this.limiter.take('login-failures', fromIp(principal));
    if (ip.decision.outcome !== 'allowed') return { refused: ip.decision };
    const identity = accountIdentity(email);
    const account = await this.limiter.takeFor('login-failures-account', identity);
    if (account.decision.outcome !== 'allowed') {
      await this.limiter.giveBack(ip.taken);
      return { refused: account.decision };
    }
    return {
      decision: closest(ip.decision, account.decision),
      afterSuccess: ip.decision.limit === null ? ip.decision : { ...ip.decision, remaining: ip.decision.remaining + 1 },
      ip: ip.taken,
      account: account.taken,
      accountIdentity: identity,
    };
  }

  async succeeded(attempt: LoginAttempt): Promise<void> {
    await Promise.all([this.limiter.giveBack(attempt.ip), this.limiter.reset(attempt.accountIdentity)]);
  }

  async abandoned(attempt: LoginAttempt): Promise<void> {
    await Promise.all([this.limiter.giveBack(attempt.ip), this.limiter.giveBack(attempt.account)]);
  }

  /** An operator's reset of a user clears the failed logins naming their account too. */
  @OnAppEvent('rate-limits.reset')
  async onReset(event: RateLimitsResetEvent): Promise<void> {
    const user = await this.users.findById(event.userId);
    if (user) await this.limiter.reset(accountIdentity(user.email));
  }
}

function closest(a: Decision, b: Decision): Decision {
  if (a.outcome !== 'allowed' || a.limit === null) return b;
  if (b.outcome !== 'allowed' || b.limit === null) return a;
  return b.remaining < a.remaining ? b : a;
}
