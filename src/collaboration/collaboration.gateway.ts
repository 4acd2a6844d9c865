import { Logger, type OnModuleDestroy } from '@nestjs/common';
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
import { DocumentReader } from '../blocks/document.reader.js';
import { ChangesService } from '../changes/changes.service.js';
import { AppError } from '../errors/app-error.js';
import { OnEvent } from '@nestjs/event-emitter';
import { APP_CLOSING } from '../health/lifecycle.state.js';
import type { RateLimitedAction } from '../rate-limit/rate-limit.policies.js';
import { isKeyProbeAnswer, RateLimiter, refusal, type Decision } from '../rate-limit/rate-limiter.js';
import { isValidSessionKey } from '../sessions/session-key.js';
import { versionFrom } from '../sessions/version-precondition.js';
import { CollabHandshake, type CollabSocket } from './collab.handshake.js';
import { CollabServer } from './collab.server.js';
import { PRESENCE_STALE_MS, PresenceService } from './presence.service.js';
import {
  BlockTarget,
  CLIENT_EVENTS,
  CreateBlockBody,
  DeletePayload,
  JoinPayload,
  LeavePayload,
  PresencePayload,
  MoveBlockBody,
  NAMESPACE,
  roomOf,
  UpdateBlockBody,
  UpdateOptions,
} from './collab.protocol.js';
import { PresenceThrottle } from './presence-throttle.js';
import { SocketMetrics } from './socket.metrics.js';
import { errorAck, parsePayload, type Ack } from './socket-ack.js';

const PRESENCE_HEARTBEAT_MS = PRESENCE_STALE_MS / 3;
/** How long a drain waits for events being handled before it closes the sockets. */
const DRAIN_EVENTS_MS = 5000;

/**
 * The `/collab` namespace: rooms per session, block writes with acks under the same rules
 * and error codes as HTTP. Every event checks permission again; nothing is trusted from
 * the join.
 */
@WebSocketGateway({ namespace: NAMESPACE })
export class CollaborationGateway implements OnGatewayInit, OnGatewayDisconnect, OnModuleDestroy {
  private readonly logger = new Logger(CollaborationGateway.name);
  private readonly throttle = new PresenceThrottle();
  private heartbeat?: NodeJS.Timeout;
  /** Events being handled now; a drain waits for them before closing the sockets. */
  private inFlight = 0;

  constructor(
    private readonly handshake: CollabHandshake,
    private readonly blocks: BlocksService,
    private readonly reader: DocumentReader,
    private readonly changes: ChangesService,
    private readonly limiter: RateLimiter,
    private readonly server: CollabServer,
    private readonly presence: PresenceService,
    private readonly metrics: SocketMetrics,
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
    namespace.on('connection', (socket) => this.metrics.watch(socket));
  }

  /** Shutdown: every socket here is told to reconnect elsewhere, then closed once its in-flight events are answered. */
  @OnEvent(APP_CLOSING)
  async drain(): Promise<void> {
    if (!this.server.started) return;
    const local = this.server.namespace.local;
    local.emit('server.draining', { reconnect: true });
    for (const deadline = Date.now() + DRAIN_EVENTS_MS; this.inFlight > 0 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    local.disconnectSockets(true);
  }

  onModuleDestroy(): void {
    clearInterval(this.heartbeat);
  }

  handleDisconnect(socket: CollabSocket): void {
    this.handshake.released();
    this.throttle.forget(socket.id);
    for (const key of socket.data.sessions ?? []) void this.depart(socket, key).catch(() => undefined);
  }

  @SubscribeMessage(CLIENT_EVENTS.join)
  join(@ConnectedSocket() socket: CollabSocket, @MessageBody() payload: unknown): Promise<Ack> {
    return this.handle(socket, async () => {
      const { key, since } = await parsePayload(JoinPayload, payload);
      this.checkKey(key);
      this.refuseIfBlocked(await this.limiter.probeBlocked(socket.data.principal.ip));
      const { id, view } = await this.reader.session(socket.data.principal, key);
      const { principal } = socket.data;
      const privileged = principal.kind === 'admin' || (principal.kind === 'user' && principal.userId === view.ownerId);
      if (!(await this.presence.join(key, socket.id, principal, { privileged }))) throw new AppError('ROOM_FULL');
      // Join first, then read: a change committed in between arrives twice (by seq), never not at all.
      await socket.join(roomOf(key));
      (socket.data.sessions ??= new Set()).add(key);
      const presence = await this.presence.announce(key);
      const session = { key, version: view.version, seq: view.seq };
      if (since === undefined) return { session, presence };
      try {
        const { items } = await this.changes.since({ id, key, seq: view.seq }, since, 1000);
        return { session, presence, missed: items };
      } catch (error) {
        if (error instanceof AppError && error.code === 'CHANGES_EXPIRED') return { session, presence, code: 'CHANGES_EXPIRED' };
        throw error;
      }
    });
  }

  @SubscribeMessage(CLIENT_EVENTS.leave)
  leave(@ConnectedSocket() socket: CollabSocket, @MessageBody() payload: unknown): Promise<Ack> {
    return this.handle(socket, async () => {
      const { key } = await parsePayload(LeavePayload, payload);
      await this.depart(socket, key);
      return {};
    });
  }

  /** Cursor, selection, status: throttled per socket, sent volatile (a newer one supersedes a lost one). */
  @SubscribeMessage(CLIENT_EVENTS.presence)
  updatePresence(@ConnectedSocket() socket: CollabSocket, @MessageBody() payload: unknown): Promise<Ack> {
    return this.handle(socket, async () => {
      const { key, ...change } = await parsePayload(PresencePayload, payload);
      if (!socket.rooms.has(roomOf(key))) throw new AppError('VALIDATION_FAILED', 'Join the session before updating presence in it.');
      await this.reader.session(socket.data.principal, key);
      this.throttle.schedule(socket.id, key, () => this.flushPresence(socket, key, change));
      return {};
    });
  }

  @SubscribeMessage(CLIENT_EVENTS.create)
  create(@ConnectedSocket() socket: CollabSocket, @MessageBody() payload: unknown): Promise<Ack> {
    return this.handle(socket, async () => {
      const { key, ...rest } = this.object(payload);
      const body = await parsePayload(CreateBlockBody, rest);
      await this.consume(socket, 'block-edits');
      return { block: await this.blocks.create(socket.data.principal, this.checkKey(key), body, socket.id) };
    });
  }

  @SubscribeMessage(CLIENT_EVENTS.update)
  update(@ConnectedSocket() socket: CollabSocket, @MessageBody() payload: unknown): Promise<Ack> {
    return this.handle(socket, async () => {
      const { key, id, merge, ...rest } = this.object(payload);
      const target = await parsePayload(BlockTarget, { key: this.checkKey(key), id });
      const options = await parsePayload(UpdateOptions, { merge });
      const body = await parsePayload(UpdateBlockBody, rest);
      const version = versionFrom(body.version, undefined);
      await this.consume(socket, 'block-edits');
      const block = await this.blocks.update(
        socket.data.principal,
        target.key,
        target.id,
        version,
        body,
        options.merge === 'fields',
        socket.id,
      );
      return { block };
    });
  }

  @SubscribeMessage(CLIENT_EVENTS.move)
  move(@ConnectedSocket() socket: CollabSocket, @MessageBody() payload: unknown): Promise<Ack> {
    return this.handle(socket, async () => {
      const { key, id, ...rest } = this.object(payload);
      const target = await parsePayload(BlockTarget, { key: this.checkKey(key), id });
      const body = await parsePayload(MoveBlockBody, rest);
      const version = versionFrom(body.version, undefined);
      await this.consume(socket, 'block-edits');
      return { block: await this.blocks.move(socket.data.principal, target.key, target.id, version, body, socket.id) };
    });
  }

  @SubscribeMessage(CLIENT_EVENTS.delete)
  remove(@ConnectedSocket() socket: CollabSocket, @MessageBody() payload: unknown): Promise<Ack> {
    return this.handle(socket, async () => {
      const { key, id, version } = await parsePayload(DeletePayload, payload);
      await this.consume(socket, 'block-edits');
      await this.blocks.delete(socket.data.principal, this.checkKey(key), id, version, socket.id);
      return { deleted: id };
    });
  }

  /** Keeps this instance's members alive in Redis; an instance that dies stops, and its entries go stale. */
  private async refreshPresence(namespace: Namespace): Promise<void> {
    const alive = [...namespace.sockets.values()].flatMap((s) =>
      [...((s as CollabSocket).data.sessions ?? [])].map((key) => ({ key, socketId: s.id })),
    );
    await this.presence.refresh(alive).catch((error: Error) => this.logger.warn(`presence heartbeat failed: ${error.message}`));
  }

  private async depart(socket: CollabSocket, key: string): Promise<void> {
    socket.data.sessions?.delete(key);
    await socket.leave(roomOf(key));
    await this.presence.leave(key, socket.id);
    await this.presence.announce(key);
  }

  private async flushPresence(socket: CollabSocket, key: string, change: Parameters<PresenceService['update']>[2]): Promise<void> {
    if (await this.presence.update(key, socket.id, change)) await this.presence.announce(key, true);
  }

  private async handle(socket: CollabSocket, run: () => Promise<Record<string, unknown>>): Promise<Ack> {
    this.inFlight++;
    try {
      return { ok: true, ...(await run()) };
    } catch (error) {
      const ack = errorAck(error);
      if (!ack.ok && isKeyProbeAnswer(ack.code)) await this.limiter.probe(socket.data.principal.ip).catch(() => undefined);
      if (!ack.ok && ack.status === 500) this.logger.error(`socket event failed: ${(error as Error).stack ?? String(error)}`);
      return ack;
    } finally {
      this.inFlight--;
    }
  }

  private async consume(socket: CollabSocket, action: RateLimitedAction): Promise<void> {
    this.refuseIfBlocked(await this.limiter.consume(action, socket.data.principal, 1, true), action);
  }

  private refuseIfBlocked(decision: Decision, action?: RateLimitedAction): void {
    if (decision.outcome !== 'allowed') throw refusal(decision, action);
  }

  private checkKey(key: unknown): string {
    if (!isValidSessionKey(key)) throw new AppError('INVALID_SESSION_KEY');
    return key;
  }

  private object(payload: unknown): Record<string, unknown> {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw AppError.validation([{ field: '(body)', message: 'must be an object' }]);
    }
    return payload as Record<string, unknown>;
  }
}
