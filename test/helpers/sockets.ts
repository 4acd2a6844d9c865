import { io, type Socket } from 'socket.io-client';
import type { TestApp } from './test-app.js';

/** A real socket.io-client on the app's `/collab` namespace; resolves once connected, rejects with the connect_error data. */
export function connect(app: Pick<TestApp, 'url'>, auth: { token?: string; protocol?: unknown } = {}): Promise<Socket> {
  const socket = io(`${app.url}/collab`, { path: '/socket.io', transports: ['websocket'], auth, reconnection: false, forceNew: true });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error: Error & { data?: unknown }) => {
      socket.close();
      reject(Object.assign(error, { data: error.data }));
    });
  });
}

/** A socket.io client speaking as `ip` through the one proxy hop the app trusts (TRUST_PROXY), not yet connected. */
export function socketFrom(app: Pick<TestApp, 'url'>, ip: string, token?: string): Socket {
  return io(`${app.url}/collab`, {
    path: '/socket.io',
    transports: ['websocket'],
    auth: token ? { token } : {},
    extraHeaders: { 'x-forwarded-for': ip },
    reconnection: false,
    forceNew: true,
  });
}

/** Resolves once the socket is connected; rejects with its connect_error. */
export function connected(socket: Socket): Promise<Socket> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => reject(error));
  });
}

export function ack<T = any>(socket: Socket, event: string, payload: unknown): Promise<T> {
  return socket.timeout(5000).emitWithAck(event, payload) as Promise<T>;
}

/** Collects every event of one name a socket receives. */
export function record<T = any>(socket: Socket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
