import type { ExecutionContext } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'socket.io';
import type { Principal } from './principal.js';

/**
 * One request or socket event, as the shared guards and interceptors see it: the same
 * rules read the caller, the session key it names and its body from either transport.
 */
export interface Call {
  transport: 'http' | 'ws';
  principal: Principal;
  /** The session key the route or event names (unchecked), or undefined when it names none. */
  key: unknown;
  takesKey: boolean;
  /** The route names an invitation token: a lookup that counts toward the key-probe guard like a key. */
  takesInviteToken: boolean;
  body: unknown;
  /** The query string, parsed (HTTP only). */
  query: unknown;
  /** Response headers (HTTP only; a socket ack carries its figures in its body). */
  header(name: string, value: string | number): void;
  /** A stable object for this one call, to hang per-call state on between guard and interceptor. */
  handle: object;
}

export function callOf(context: ExecutionContext): Call {
  if (context.getType() === 'ws') {
    const socket = context.switchToWs().getClient<Socket>();
    const body: unknown = context.switchToWs().getData();
    const principal = (socket.data as { principal?: Principal }).principal;
    if (!principal) throw new Error('the socket handshake did not identify this socket');
    return {
      transport: 'ws',
      principal,
      key: isRecord(body) ? body.key : undefined,
      // Every collaboration event names a session.
      takesKey: true,
      takesInviteToken: false,
      body,
      query: undefined,
      header: () => undefined,
      handle: context.getArgs(),
    };
  }
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const reply = context.switchToHttp().getResponse<FastifyReply>();
  if (!request.principal) throw new Error('AuthGuard did not run before this guard');
  const params = request.params as Record<string, unknown> | undefined;
  // A route names a session by its path (`:key`), or, when it makes something for one (a webhook), by `sessionKey` in its body.
  // Only a string is a key: null (every session) or any other shape is the body's validation to refuse.
  const named = params?.key === undefined && isRecord(request.body) ? request.body.sessionKey : undefined;
  const bodyKey = typeof named === 'string' ? named : undefined;
  return {
    transport: 'http',
    principal: request.principal,
    key: params?.key ?? bodyKey,
    takesKey: params?.key !== undefined || bodyKey !== undefined,
    takesInviteToken: params?.token !== undefined,
    body: request.body,
    query: request.query,
    header: (name, value) => void reply.header(name, value),
    handle: request,
  };
}

/** The HTTP status a successful call answered with (201 for a PUT that created), if HTTP. */
export function answeredStatus(context: ExecutionContext): number | undefined {
  return context.getType() === 'http' ? context.switchToHttp().getResponse<FastifyReply>().statusCode : undefined;
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
