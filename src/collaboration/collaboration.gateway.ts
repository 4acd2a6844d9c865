import { Logger, UseFilters, UseGuards, UseInterceptors, type OnModuleDestroy } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import type { Namespace } from 'socket.io';
import { BlocksService } from '../blocks/blocks.service.js';
import { AppError } from '../errors/app-error.js';
import { Admission, RateLimit } from '../rate-limit/rate-limit.guard.js';
import { Idempotent } from '../idempotency/idempotency.interceptor.js';
import { CollabHandshake, type CollabSocket } from './collab.handshake.js';
import {
  CLIENT_EVENTS,
  CreateBlockEvent,
  DeleteBlockEvent,
  JoinPayload,
  KNOWN_CLIENT_EVENTS,
  LeavePayload,
  MoveBlockEvent,
  NAMESPACE,
  PresencePayload,
  roomOf,
  UndoEvent,
  UpdateBlockEvent,
} from './collab.protocol.js';
import { CollabServer } from './collab.server.js';
import { PresenceThrottle } from './presence-throttle.js';
import { PRESENCE_STALE_MS, PresenceService } from './presence.service.js';
import { SessionRooms } from './session-rooms.js';
import { errorAck, SocketAckFilter, SocketAckInterceptor, SocketEventsInFlight, SocketPayloadGuard } from './socket-ack.js';
import { SocketBackpressure } from './socket-backpressure.js';
import { SocketMetrics } from './socket.metrics.js';
import { versionFrom } from '../sessions/version-precondition.js';
import { OnAppEvent } from '../events/app-events.js';
import { SessionAccess } from '../sessions/session-access.service.js';
import { UndoService } from '../undo/undo.service.js';

const PRESENCE_HEARTBEAT_MS = PRESENCE_STALE_MS / 3;
/** How long a drain waits for events being handled before it closes the sockets. */
const DRAIN_EVENTS_MS = 5000;

/**
 * The `/collab` namespace: rooms per session, block writes with acks under the same rules
 * and error codes as HTTP. Every event goes through the HTTP routes' pipeline: payload
 * checks, the key's format and the key-probe guard, rate limits, schema validation and the
 * one error mapper; permission is checked again on every event, nothing is trusted from the join.
 */
// Guards and interceptors run in the order these decorators apply, bottom up: the payload checks, then admission.
@WebSocketGateway({ namespace: NAMESPACE })
@UseFilters(SocketAckFilter)
@Admission()
@UseInterceptors(SocketAckInterceptor)
@UseGuards(SocketPayloadGuard)
export class CollaborationGateway implements OnGatewayInit, OnGatewayDisconnect, OnModuleDestroy {
  private readonly logger = new Logger(CollaborationGateway.name);
  private readonly throttle = new PresenceThrottle();
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly handshake: CollabHandshake,
    private readonly blocks: BlocksService,
    private readonly access: SessionAccess,
    private readonly rooms: SessionRooms,
    private readonly server: CollabServer,
    private readonly presence: PresenceService,
    private readonly metrics: SocketMetrics,
    private readonly backpressure: SocketBackpressure,
    private readonly inFlight: SocketEventsInFlight,
    private readonly undo: UndoService,
  ) {}

  afterInit(namespace: Namespace): void {
    this.server.attach(namespace);
    this.heartbeat = setInterval(() => void this.refreshPresence(namespace), PRESENCE_HEARTBEAT_MS).unref();
    namespace.use((socket, next) => {
      this.handshake.admit(socket as CollabSocket).then(
        () => next(),
        (error: Error) => next(error),
      );
    });
    namespace.on('connection', (socket: CollabSocket) => {
      this.handshake.connected(socket);
      this.metrics.watch(socket);
      this.backpressure.watch(socket);
      socket.onAny((event: unknown, ...args: unknown[]) => {
        const ack = args.at(-1);
        if (typeof event === 'string' && KNOWN_CLIENT_EVENTS.has(event)) return;
        if (typeof ack === 'function') (ack as (answer: unknown) => void)(errorAck(new AppError('UNKNOWN_EVENT')));
      });
    });
  }

  /** Shutdown: every socket here is told to reconnect elsewhere, then closed once its in-flight events are answered. */
  @OnAppEvent('app.closing')
  async drain(): Promise<void> {
    if (!this.server.started) return;
    const local = this.server.namespace.local;
    local.emit('server.draining', { reconnect: true });
    for (const deadline = Date.now() + DRAIN_EVENTS_MS; this.inFlight.count > 0 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    local.disconnectSockets(true);
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeat);
  }

  handleDisconnect(socket: CollabSocket): void {
    this.throttle.forget(socket.id);
    for (const key of socket.data.sessions ?? []) void this.rooms.leave(socket, key).catch(() => undefined);
  }

  @SubscribeMessage(CLIENT_EVENTS.join)
  join(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: JoinPayload }) payload: JoinPayload) {
    return this.rooms.join(socket, payload.key, payload.since);
  }

  @SubscribeMessage(CLIENT_EVENTS.leave)
  async leave(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: LeavePayload }) payload: LeavePayload) {
    await this.rooms.leave(socket, payload.key);
    return {};
  }

  /** Cursor, selection, status: throttled per socket, sent volatile (a newer one supersedes a lost one). */
  @SubscribeMessage(CLIENT_EVENTS.presence)
  async updatePresence(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: PresencePayload }) payload: PresencePayload) {
    const { key, ...change } = payload;
    if (!socket.rooms.has(roomOf(key))) throw new AppError('VALIDATION_FAILED', 'Join the session before updating presence in it.');
    await this.access.require(socket.data.principal, key, 'read');
    this.throttle.schedule(socket.id, key, () => this.flushPresence(socket, key, change));
    return {};
  }

  @SubscribeMessage(CLIENT_EVENTS.create)
  @RateLimit('block-edits')
  @Idempotent('with-write')
  async create(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: CreateBlockEvent }) payload: CreateBlockEvent) {
    const { key, ...body } = payload;
    const { block, seq } = await this.blocks.create(socket.data.principal, key, body, socket.id);
    return { block, seq };
  }

  @SubscribeMessage(CLIENT_EVENTS.update)
  @RateLimit('block-edits')
  @Idempotent('with-write')
  async update(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: UpdateBlockEvent }) payload: UpdateBlockEvent) {
    const { key, id, merge, ...body } = payload;
    const version = versionFrom(body.version, undefined);
    const { block, seq } = await this.blocks.update(socket.data.principal, key, id, version, body, merge === 'fields', socket.id);
    return { block, seq };
  }

  @SubscribeMessage(CLIENT_EVENTS.move)
  @RateLimit('block-edits')
  @Idempotent('with-write')
  async move(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: MoveBlockEvent }) payload: MoveBlockEvent) {
    const { key, id, ...body } = payload;
    const version = versionFrom(body.version, undefined);
    const { block, seq } = await this.blocks.move(socket.data.principal, key, id, version, body, socket.id);
    return { block, seq };
  }

  @SubscribeMessage(CLIENT_EVENTS.delete)
  @RateLimit('block-edits')
  @Idempotent('with-write')
  async remove(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: DeleteBlockEvent }) payload: DeleteBlockEvent) {
    const { seq } = await this.blocks.delete(socket.data.principal, payload.key, payload.id, payload.version, socket.id);
    return { deleted: payload.id, seq };
  }

  /** Ack `{ok, seq, changes}`, as POST .../undo answers; an undo is no idempotent write, so a retry carries its key. */
  @SubscribeMessage(CLIENT_EVENTS.undo)
  @RateLimit('block-edits')
  @Idempotent()
  undoLatest(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: UndoEvent }) payload: UndoEvent) {
    return this.undo.invert(socket.data.principal, payload.key, 'undo');
  }

  @SubscribeMessage(CLIENT_EVENTS.redo)
  @RateLimit('block-edits')
  @Idempotent()
  redoLatest(@ConnectedSocket() socket: CollabSocket, @MessageBody({ schema: UndoEvent }) payload: UndoEvent) {
    return this.undo.invert(socket.data.principal, payload.key, 'redo');
  }

  /** Keeps this instance's members alive in Redis; an instance that dies stops, and its entries go stale. */
  private async refreshPresence(namespace: Namespace): Promise<void> {
    const alive = [...namespace.sockets.values()].flatMap((s) =>
      [...((s as CollabSocket).data.sessions ?? [])].map((key) => ({ key, socketId: s.id })),
    );
    await this.presence.refresh(alive).catch((error: Error) => this.logger.warn(`presence heartbeat failed: ${error.message}`));
  }

  private async flushPresence(socket: CollabSocket, key: string, change: Parameters<PresenceService['update']>[2]): Promise<void> {
    if (await this.presence.update(key, socket.id, change)) await this.presence.announce(key, true);
  }
}
