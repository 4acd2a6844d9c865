import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { Plan } from '../generated/prisma/enums.js';
import type { Actor } from '../contract/actor.js';

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

/** The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail included). */
function ipv6Groups(ip: string): number[] {
  let text = ip.split('%')[0];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/**
 * Who an IP is for limits and the key-probe guard: an IPv4 address as it is, an IPv6
 * address by the prefix it belongs to (`2001:db8:1:2::/64` for a /64), since one host or
 * household holds a whole /64 and could otherwise take a fresh address for every request.
 */
export function ipIdentity(ip: string, ipv6Prefix: number): string {
  if (isIP(ip) !== 6) return ip;
  const groups = ipv6Groups(ip);
  const masked = groups.map((group, i) => {
    const bits = Math.min(16, Math.max(0, ipv6Prefix - i * 16));
    return bits === 0 ? 0 : group & (0xffff << (16 - bits)) & 0xffff;
  });
  // The shortest form of the masked address: the longest run of zero groups as `::`.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (masked[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && masked[j] === 0) j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  const hex = masked.map((g) => g.toString(16));
  const text = best.start < 0 ? hex.join(':') : `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
  return `${text}/${ipv6Prefix}`;
}

/** The client's IP: the proxy-reported one when TRUST_PROXY allows and it is an IP, else the socket's. */
export function clientIp(request: FastifyRequest): string {
  const reported = normaliseIp(request.ip);
  return isIP(reported) ? reported : normaliseIp(request.socket.remoteAddress);
}
