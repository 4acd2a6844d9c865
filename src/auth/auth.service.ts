import { Injectable } from '@nestjs/common';
import { TransactionHost } from '../database/transaction-host.js';
import { AppError } from '../errors/app-error.js';
import { refusal, type Decision } from '../rate-limit/rate-limiter.js';
import type { Plan } from '../generated/prisma/enums.js';
import type { User } from '../generated/prisma/client.js';
import { LoginAttempts } from './login-attempts.js';
import { actorOf, type Principal } from '../common/principal.js';
import { PasswordHasher } from './password-hasher.js';
import { TokenService } from './token.service.js';
import { UserProfileCache, type UserProfile } from './user-profile.cache.js';
import { UsersRepository } from './users.repository.js';
import { EventBus } from '../events/event-bus.js';

export interface AuthResult {
  user: UserProfile;
  accessToken: string;
}

/** A login's answer and the failed-login window it reports in its RateLimit-* headers. */
export type LoginOutcome = { decision: Decision } & ({ result: AuthResult } | { error: AppError });

export function toProfile(user: User): UserProfile {
  return { id: user.id, email: user.email, displayName: user.displayName, plan: user.plan };
}

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenService,
    private readonly profiles: UserProfileCache,
    private readonly attempts: LoginAttempts,
    private readonly tx: TransactionHost,
    private readonly events: EventBus,
  ) {}

  async register(input: { email: string; password: string; displayName?: string }): Promise<AuthResult> {
    const email = input.email.toLowerCase();
    const user = await this.users.create({
      email,
      passwordHash: await this.hasher.hash(input.password),
      displayName: input.displayName ?? email.split('@')[0].slice(0, 100),
    });
    if (!user) throw new AppError('EMAIL_TAKEN');
    return { user: toProfile(user), accessToken: await this.tokens.issue(user) };
  }

  /**
   * Checks the password only within the caller's IP's and the account's failed-login
   * windows: while either is exhausted every attempt is refused, the right password too.
   */
  async login(input: { email: string; password: string }, principal: Principal): Promise<LoginOutcome> {
    const email = input.email.toLowerCase();
    const attempt = await this.attempts.begin(principal, email);
    if ('refused' in attempt) return { decision: attempt.refused, error: refusal(attempt.refused, 'failed logins') };
    let user: User | null;
    try {
      user = await this.verified(email, input.password);
    } catch (error) {
      await this.attempts.abandoned(attempt);
      throw error;
    }
    if (!user) return { decision: attempt.decision, error: new AppError('INVALID_CREDENTIALS') };
    await this.attempts.succeeded(attempt);
    return { decision: attempt.afterSuccess, result: { user: toProfile(user), accessToken: await this.tokens.issue(user) } };
  }

  /** The user if the password is theirs; the same work and answer for an unknown email. */
  private async verified(email: string, password: string): Promise<User | null> {
    const user = await this.users.findByEmail(email);
    if (!user) {
      await this.hasher.burn(password);
      return null;
    }
    return (await this.hasher.verify(password, user.passwordHash)) ? user : null;
  }

  /** The stored profile behind a token (plan included), cached at most 60 s; null if the user is gone. */
  async profile(userId: string): Promise<UserProfile | null> {
    return this.profiles.getOrLoad(userId, async () => {
      const user = await this.users.findById(userId);
      return user && toProfile(user);
    });
  }

  /**
   * Deletes the user and the sessions they own, in one transaction. Answered only once the cached
   * profile is invalid on every instance, so from then on the user's tokens are refused everywhere
   * (a profile read before the delete can no longer be served: see CacheService); then the owned
   * sessions are announced deleted (their rooms are revoked), and `user.deleted` names the
   * sessions the user was a member of (members/ takes their role off each) so their sockets go.
   */
  async deleteUser(userId: string, by: Principal): Promise<void> {
    const deleted = await this.tx.run(async () => {
      if (!(await this.users.lockForDeletion(userId))) return null;
      const keys = await this.users.deleteOwnedSessions(userId);
      const memberOf = await this.users.memberships(userId);
      await this.users.delete(userId);
      return { keys, memberOf };
    });
    if (!deleted) throw new AppError('USER_NOT_FOUND');
    try {
      await this.profiles.drop(userId);
    } finally {
      const at = new Date().toISOString();
      const actor = actorOf(by);
      for (const key of deleted.keys) await this.events.emit('session.deleted', { key, actor, at });
      await this.events.emit('user.deleted', { userId, at, actor, memberOf: deleted.memberOf });
    }
  }

  async changePlan(userId: string, plan: Plan): Promise<UserProfile> {
    const user = await this.users.updatePlan(userId, plan);
    if (!user) throw new AppError('USER_NOT_FOUND');
    await this.profiles.drop(userId);
    return toProfile(user);
  }
}
