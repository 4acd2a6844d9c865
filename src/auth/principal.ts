import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { Plan } from '../generated/prisma/enums.js';

/** Who is calling: a user (by token), an operator (admin token) or an anonymous client (by IP). */
export type Principal =
  | { kind: 'user'; userId: string; plan: Plan; displayName: string; ip: string }
  | { kind: 'admin'; ip: string }
  | { kind: 'anonymous'; plan: 'FREE'; ip: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export type AccessRequirement = 'user' | 'admin' | 'own';
export const ACCESS_REQUIREMENT = 'tessera:access';

/** The route needs a user token (anonymous: 401 AUTH_REQUIRED). */
export const RequireUser = () => SetMetadata(ACCESS_REQUIREMENT, 'user' satisfies AccessRequirement);
/** The route needs ADMIN_TOKEN (none: 401, a user token: 403). */
export const RequireAdmin = () => SetMetadata(ACCESS_REQUIREMENT, 'admin' satisfies AccessRequirement);
/** The route reads its own Authorization header (a scrape token, not a user's): no principal is made. */
export const OwnAuthorization = () => SetMetadata(ACCESS_REQUIREMENT, 'own' satisfies AccessRequirement);

export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  if (!request.principal) throw new Error('AuthGuard did not run for this route');
  return request.principal;
});

/** Who made a change, as collaborators are told. */
export interface Actor {
  userId: string | null;
  displayName: string;
}

export function actorOf(principal: Principal): Actor {
  switch (principal.kind) {
    case 'user':
      return { userId: principal.userId, displayName: principal.displayName };
    case 'admin':
      return { userId: null, displayName: 'Operator' };
    case 'anonymous':
      return { userId: null, displayName: 'Anonymous' };
  }
}

/** The stable identity a caller's idempotency keys and limits hang on. */
export function principalScope(principal: Principal): string {
  switch (principal.kind) {
    case 'user':
      return `user:${principal.userId}`;
    case 'admin':
      return 'admin';
    case 'anonymous':
      return `ip:${principal.ip}`;
  }
}

/** IPv4-mapped IPv6 (`::ffff:1.2.3.4`) shown as plain IPv4. */
export function normaliseIp(ip: string | undefined): string {
  if (!ip) return 'unknown';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The client's IP: the proxy-reported one when TRUST_PROXY allows and it is an IP, else the socket's. */
export function clientIp(request: FastifyRequest): string {
  const reported = normaliseIp(request.ip);
  return isIP(reported) ? reported : normaliseIp(request.socket.remoteAddress);
}
