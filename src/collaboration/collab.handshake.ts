import { isIP } from 'node:net';
import { Injectable } from '@nestjs/common';
import type { Socket } from 'socket.io';
import { AuthGuard } from '../auth/auth.guard.js';
import { normaliseIp, type Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ERROR_CATALOG, type ErrorCode } from '../errors/error-catalog.js';
import { LifecycleState } from '../health/lifecycle.state.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, type Protocol } from './collab.protocol.js';
import { CollabServer } from './collab.server.js';
import { errorAck } from './socket-ack.js';

export interface SocketData {
  principal: Principal;
  /** The protocol the handshake asked for: how changes are sent to this socket. */
  protocol: Protocol;
  /** Sessions joined; socket.io empties `rooms` before the disconnect handler runs. */
  sessions?: Set<string>;
}
export type CollabSocket = Socket<Record<string, never>, Record<string, never>, Record<string, never>, SocketData>;

/** Longest a handshake may hold a slot before it is connected. */
const ADMISSION_MS = 5000;

/** A refused handshake: the client's `connect_error` carries `data: {code, message}`. */
function connectError(code: ErrorCode, message: string = ERROR_CATALOG[code].detail): Error {
  return Object.assign(new Error(message), { data: { code, message } });
}

/**
 * Admits a socket before the connection exists: protocol, draining, capacity, identity.
 * Capacity counts the namespace's connected sockets (Socket.IO drops one the moment its
 * transport closes, however it closed) plus the handshakes being admitted now, so an
 * aborted handshake or a reset connection never holds a slot.
 */
@Injectable()
export class CollabHandshake {
  /** Handshakes between their admission and their connection (or their transport's close). */
  private readonly admitting = new Set<string>();

  constructor(
    private readonly auth: AuthGuard,
    private readonly lifecycle: LifecycleState,
    private readonly server: CollabServer,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  /** Sockets connected to this instance or being admitted. */
  get connections(): number {
    return (this.server.started ? this.server.namespace.sockets.size : 0) + this.admitting.size;
  }

  async admit(socket: CollabSocket): Promise<void> {
    const auth = socket.handshake.auth as { protocol?: unknown; token?: unknown } | undefined;
    const protocol = auth?.protocol ?? 1;
    if (typeof protocol !== 'number' || !Number.isInteger(protocol) || protocol < MIN_PROTOCOL_VERSION || protocol > PROTOCOL_VERSION) {
      throw connectError('PROTOCOL_UNSUPPORTED', `This server speaks protocol ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}.`);
    }
    socket.data.protocol = protocol as Protocol;
    if (this.lifecycle.draining) throw connectError('SERVER_DRAINING');
    if (this.connections >= this.config.WS_MAX_CONNECTIONS) throw connectError('SERVER_FULL');
    this.admitting.add(socket.id);
    // Socket.IO connects the socket on a later tick, or not at all if its transport closed meanwhile.
    const settled = () => this.admitting.delete(socket.id);
    socket.conn.once('close', settled);
    setTimeout(settled, ADMISSION_MS).unref();
    try {
      if (auth?.token !== undefined && typeof auth.token !== 'string') throw new AppError('INVALID_TOKEN');
      socket.data.principal = await this.auth.identify(auth?.token ? `Bearer ${auth.token}` : undefined, this.ipOf(socket));
    } catch (error) {
      settled();
      const ack = errorAck(error);
      throw ack.ok ? connectError('INTERNAL_ERROR') : connectError(ack.code as ErrorCode, ack.message);
    }
  }

  /** The namespace connected the socket: it now counts among the namespace's sockets. */
  connected(socket: CollabSocket): void {
    this.admitting.delete(socket.id);
  }

  /** The socket's peer, or with TRUST_PROXY the IP the one proxy in front reports (right-most X-Forwarded-For). */
  private ipOf(socket: CollabSocket): string {
    const forwarded = socket.handshake.headers['x-forwarded-for'];
    if (this.config.TRUST_PROXY && typeof forwarded === 'string') {
      const reported = normaliseIp(forwarded.split(',').at(-1)?.trim());
      if (isIP(reported)) return reported;
    }
    return normaliseIp(socket.handshake.address);
  }
}
