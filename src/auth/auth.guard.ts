import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { AuthService } from './auth.service.js';
import { bearerToken, SharedSecret } from '../common/bearer.js';
import { ACCESS_REQUIREMENT, clientIp, ipIdentity, type AccessRequirement, type Principal } from '../common/principal.js';
import { TokenService } from './token.service.js';

/**
 * Runs on every route: turns the Authorization header into a Principal. A header that
 * is present but not a valid token is always 401 INVALID_TOKEN, never anonymous.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly adminToken?: SharedSecret;
  private readonly ipv6Prefix: number;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly auth: AuthService,
    @InjectConfig() config: AppConfig,
  ) {
    this.adminToken = SharedSecret.of(config.ADMIN_TOKEN);
    this.ipv6Prefix = config.RATE_LIMIT_IPV6_PREFIX;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Sockets are identified once, at the handshake (CollaborationGateway), and checked per event.
    if (context.getType() !== 'http') return true;
    const requirement = this.reflector.getAllAndOverride<AccessRequirement | undefined>(ACCESS_REQUIREMENT, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (requirement === 'own') return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const principal = await this.identify(request.headers.authorization, clientIp(request));
    request.principal = principal;
    if (requirement === 'admin' && principal.kind !== 'admin') {
      throw principal.kind === 'user'
        ? new AppError('FORBIDDEN', 'This route is for operators (admin token).')
        : new AppError('ADMIN_TOKEN_REQUIRED');
    }
    if (requirement === 'user' && principal.kind !== 'user') throw new AppError('AUTH_REQUIRED');
    return true;
  }

  /** Public for the socket handshake, which authenticates the same way. `address` is the client's IP. */
  async identify(header: string | undefined, address: string): Promise<Principal> {
    const ip = ipIdentity(address, this.ipv6Prefix);
    if (header === undefined) return { kind: 'anonymous', plan: 'FREE', ip };
    const token = bearerToken(header);
    if (!token) throw new AppError('INVALID_TOKEN', 'The Authorization header must be "Bearer <token>".');
    if (this.adminToken?.matches(token)) return { kind: 'admin', ip };
    const claims = await this.tokens.verify(token);
    const profile = claims && (await this.auth.profile(claims.sub));
    if (!profile) throw new AppError('INVALID_TOKEN');
    return { kind: 'user', userId: profile.id, plan: profile.plan, displayName: profile.displayName, ip };
  }
}
