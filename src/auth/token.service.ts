import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { z } from 'zod';
import type { Plan } from '../generated/prisma/enums.js';

export interface AccessClaims {
  sub: string;
  plan: Plan;
}

const userId = z.uuid();

@Injectable()
export class TokenService {
  constructor(private readonly jwt: JwtService) {}

  issue(user: { id: string; plan: Plan }): Promise<string> {
    return this.jwt.signAsync({ sub: user.id, plan: user.plan } satisfies AccessClaims);
  }

  /** The claims of a valid token, or null for anything forged, expired or malformed. */
  async verify(token: string): Promise<AccessClaims | null> {
    try {
      const claims = await this.jwt.verifyAsync<Partial<AccessClaims>>(token);
      return userId.safeParse(claims.sub).success ? (claims as AccessClaims) : null;
    } catch {
      return null;
    }
  }
}
