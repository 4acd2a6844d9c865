import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { Plan } from '../generated/prisma/enums.js';

export interface AccessClaims {
  sub: string;
  plan: Plan;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
      return typeof claims.sub === 'string' && UUID.test(claims.sub) ? (claims as AccessClaims) : null;
    } catch {
      return null;
    }
  }
}
