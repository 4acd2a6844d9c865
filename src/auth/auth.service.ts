import { Injectable } from '@nestjs/common';
import { AppError } from '../errors/app-error.js';
import type { Plan } from '../generated/prisma/enums.js';
import type { User } from '../generated/prisma/client.js';
import { PasswordHasher } from './password-hasher.js';
import { TokenService } from './token.service.js';
import { UserProfileCache, type UserProfile } from './user-profile.cache.js';
import { UsersRepository } from './users.repository.js';

export interface AuthResult {
  user: UserProfile;
  accessToken: string;
}

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

  async login(input: { email: string; password: string }): Promise<AuthResult> {
    const user = await this.users.findByEmail(input.email.toLowerCase());
    if (!user) {
      await this.hasher.burn(input.password);
      throw new AppError('INVALID_CREDENTIALS');
    }
    if (!(await this.hasher.verify(input.password, user.passwordHash))) throw new AppError('INVALID_CREDENTIALS');
    return { user: toProfile(user), accessToken: await this.tokens.issue(user) };
  }

  /** The stored profile behind a token (plan included), cached at most 60 s; null if the user is gone. */
  async profile(userId: string): Promise<UserProfile | null> {
    return this.profiles.getOrLoad(userId, async () => {
      const user = await this.users.findById(userId);
      return user && toProfile(user);
    });
  }

  async changePlan(userId: string, plan: Plan): Promise<UserProfile> {
    const user = await this.users.updatePlan(userId, plan);
    if (!user) throw new AppError('USER_NOT_FOUND');
    await this.profiles.drop(userId);
    return toProfile(user);
  }
}
