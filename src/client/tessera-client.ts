import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import type { BlockView, ChangeEvent, Member } from './protocol.js';

/** The protocol this client speaks (see the server's collab.protocol). */
export const CLIENT_PROTOCOL = 2;
/** How long a gap in the seq may stay open before the client asks for the missed changes. */
const GAP_WAIT_MS = 300;
/** How long a write keeps being sent again (same key) while it gets no answer. */
const WRITE_DEADLINE_MS = 30_000;
/** How long one attempt of a write waits for its ack. */
const ACK_WAIT_MS = 10_000;
/** Refusals that mean "send it again": the first attempt still runs, or a dependency or instance is away. */
const SEND_AGAIN = new Set(['IDEMPOTENCY_KEY_IN_USE', 'SERVICE_UNAVAILABLE', 'SERVER_DRAINING']);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type { BlockView, ChangeEvent, Member };

/** A refused event: the same code and fields an HTTP client would get. */
export class TesseraError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'TesseraError';
  }
}

export interface ClientOptions {
  /** The server's base URL, e.g. http://localhost:3001 (the socket goes to `/collab` there). */
  url: string;
  token?: string;
  /** Passed to socket.io-client; reconnection with randomized exponential backoff is on by default. */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

export interface Conflict {
  blockId: string;
  attemptedVersion: number;
  current: BlockView;
  actor: { userId: string | null; displayName: string };
}

export interface WriteOptions {
  /** The write's idempotency key; a new one by default. Keep it to send the same write again later. */
  idempotencyKey?: string;
  /** How long the write keeps being sent again while it gets no answer (default 30 s; Infinity: until closed). */
  deadlineMs?: number;
}

type Ack = { ok: true; [field: string]: unknown } | { ok: false; code: string; message: string; [field: string]: unknown };
type Listener<T> = (value: T) => void;

/** A connection to Tessera's collaboration namespace, with resume and ordered changes per session. */
export class TesseraClient {
  readonly socket: Socket;
  private readonly feeds = new Map<string, SessionFeed>();
  private closed = false;
  private readonly closing = new Set<() => void>();

  /** The server's base URL, without a trailing slash. */
  readonly url: string;
  readonly token?: string;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/$/, '');
    this.token = options.token;
    this.socket = io(`${this.url}/collab`, {
      path: '/socket.io',
      transports: ['websocket'],
      auth: { token: options.token, protocol: CLIENT_PROTOCOL },
      reconnectionDelay: 250,
      reconnectionDelayMax: 5000,
      randomizationFactor: 0.5,
      ...options.socket,
    });
    this.socket.on('changes', ({ key, changes }: { key: string; changes: ChangeEvent[] }) => {
      const feed = this.feeds.get(key);
      for (const change of changes) feed?.receive(change);
    });
    this.socket.on('presence', ({ key, members }: { key: string; members: Member[] }) => this.feeds.get(key)?.presenceChanged(members));
    this.socket.on('block.conflict', (conflict: Conflict) => this.feeds.get(conflict.current.sessionKey)?.conflicted(conflict));
    this.socket.on('session.role', ({ key, role }: { key: string; role: string }) => this.feeds.get(key)?.roleChanged(role));
    this.socket.on('session.revoked', ({ key, reason }: { key: string; reason: string }) => {
      this.feeds.get(key)?.revoked(reason);
      this.feeds.delete(key);
    });
    // After any reconnection, every session is joined again from the last change applied.
    let connectedBefore = false;
    this.socket.on('connect', () => {
      if (connectedBefore) for (const feed of this.feeds.values()) void feed.resume().catch(() => undefined);
      connectedBefore = true;
    });
    // A draining instance closes the connection itself, and Socket.IO does not reconnect after a
    // server-side close: reconnect (through the load balancer, to another instance), and try
    // again a moment later if this one still answers while it drains.
    this.socket.on('disconnect', (reason) => {
      if (reason === 'io server disconnect' && !this.closed) this.reconnectSoon(0);
    });
    this.socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
      if (connectedBefore && error.data?.code === 'SERVER_DRAINING' && !this.closed) this.reconnectSoon(250 + Math.random() * 750);
    });
  }

  /** Resolves once connected; rejects with the server's refusal (e.g. PROTOCOL_UNSUPPORTED, SERVER_FULL). */
  connect(): Promise<this> {
    if (this.socket.connected) return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      const onError = (error: Error & { data?: { code?: string; message?: string } }) => {
        this.socket.off('connect', onConnect);
        reject(new TesseraError(error.data?.code ?? 'CONNECT_FAILED', error.data?.message ?? error.message));
      };
      const onConnect = () => {
        this.socket.off('connect_error', onError);
        resolve(this);
      };
      this.socket.once('connect', onConnect);
      this.socket.once('connect_error', onError);
    });
  }

  /** Joins a session's room; the feed then delivers its changes in seq order, gap-free. */
  async join(key: string, since?: number): Promise<SessionFeed> {
    const feed = this.feed(key);
    await feed.start(since);
    return feed;
  }

  /** The session's feed, before it is joined: listeners added now hear the changes the join brings. */
  feed(key: string): SessionFeed {
    const feed = this.feeds.get(key) ?? new SessionFeed(this, key);
    this.feeds.set(key, feed);
    return feed;
  }

  async leave(key: string): Promise<void> {
    this.feeds.delete(key);
    await this.request('session.leave', { key });
  }

  close(): void {
    this.closed = true;
    this.socket.close();
    for (const onClose of [...this.closing]) onClose();
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Emits an event and resolves with its ack's fields, or rejects with a TesseraError. */
  async request<T = Record<string, unknown>>(event: string, payload: unknown, timeoutMs = 10_000): Promise<T> {
    const ack = (await this.socket.timeout(timeoutMs).emitWithAck(event, payload)) as Ack;
    if (!ack.ok) {
      const { ok: _ok, code, message, ...details } = ack;
      throw new TesseraError(code, message, details);
    }
    return ack as T;
  }

  /**
   * A write, applied once: sent with an idempotency key of its own, and sent again with the
   * same key after a lost ack, a reconnect (to any instance) or a "retry" refusal, until it is
   * answered or WRITE_DEADLINE_MS pass. A retry of a write that applied gets its first ack.
   */
  async write<T = Record<string, unknown>>(event: string, payload: Record<string, unknown>, options: WriteOptions = {}): Promise<T> {
    const keyed = { ...payload, idempotencyKey: options.idempotencyKey ?? globalThis.crypto.randomUUID() };
    const deadline = Date.now() + (options.deadlineMs ?? WRITE_DEADLINE_MS);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.connected(deadline - Date.now());
        return await this.untilDisconnected(this.request<T>(event, keyed, Math.max(1, Math.min(ACK_WAIT_MS, deadline - Date.now()))));
      } catch (error) {
        const again = !(error instanceof TesseraError) || SEND_AGAIN.has(error.code);
        if (!again || this.closed || Date.now() >= deadline) throw error;
        await pause(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  /** `answer`, or a rejection as soon as the connection drops (its ack will not come). */
  private async untilDisconnected<T>(answer: Promise<T>): Promise<T> {
    let onDisconnect = () => undefined as void;
    const dropped = new Promise<never>((_, reject) => {
      onDisconnect = () => reject(new Error('disconnected before the ack'));
      this.socket.once('disconnect', onDisconnect);
    });
    answer.catch(() => undefined); // its timeout may still fire after the race is over
    try {
      return await Promise.race([answer, dropped]);
    } finally {
      this.socket.off('disconnect', onDisconnect);
    }
  }

  /** Resolves once the socket is connected, or rejects after `timeoutMs` (never, if infinite) or on close. */
  private connected(timeoutMs: number): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('client closed'));
    return new Promise((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.socket.off('connect', onConnect);
        this.closing.delete(onClose);
        if (error) reject(error);
        else resolve();
      };
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => settle(new Error('not connected')), timeoutMs) : undefined;
      const onConnect = () => settle();
      const onClose = () => settle(new Error('client closed'));
      this.socket.once('connect', onConnect);
      this.closing.add(onClose);
    });
  }

  private reconnectSoon(delayMs: number): void {
    setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delayMs);
  }
}

/** One joined session: its ordered changes, its members, and writes with acks. */
export class SessionFeed {
  /** The seq of the last change delivered to listeners. */
  seq = 0;
  version = 0;
  members: Member[] = [];
  private readonly pending = new Map<number, ChangeEvent>();
  private gapTimer?: ReturnType<typeof setTimeout>;
  private readonly listeners = {
    change: new Set<Listener<ChangeEvent>>(),
    presence: new Set<Listener<Member[]>>(),
    conflict: new Set<Listener<Conflict>>(),
    reset: new Set<Listener<void>>(),
    revoked: new Set<Listener<string>>(),
    /** The caller's role in the session changed (and still lets them read it). */
    role: new Set<Listener<string>>(),
  };

  constructor(
    private readonly client: TesseraClient,
    readonly key: string,
  ) {}

  on<E extends keyof SessionFeed['listeners']>(event: E, listener: Parameters<SessionFeed['listeners'][E]['add']>[0]): () => void {
    const set = this.listeners[event] as Set<typeof listener>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** `id` (a UUID) names the new block, so it is known before the ack (taken: BLOCK_ID_TAKEN). */
  create(body: { id?: string; type: string; content: Record<string, unknown>; afterId?: string; beforeId?: string }): Promise<BlockView> {
    return this.write('block.create', body);
  }

  update(id: string, version: number, body: { type?: string; content?: Record<string, unknown> }, options: { merge?: 'fields' } = {}) {
    return this.write('block.update', { id, version, ...body, ...options });
  }

  move(id: string, version: number, anchor: { afterId?: string; beforeId?: string }): Promise<BlockView> {
    return this.write('block.move', { id, version, ...anchor });
  }

  async delete(id: string, version: number): Promise<void> {
    await this.client.write('block.delete', { key: this.key, id, version });
  }

  /** Undoes the caller's own latest step in this session (a signed-in writer); its changes arrive as `change` too. */
  undo(): Promise<{ seq: number; changes: ChangeEvent[] }> {
    return this.client.write('session.undo', { key: this.key });
  }

  /** Redoes the caller's latest undo in this session, unless they edited since. */
  redo(): Promise<{ seq: number; changes: ChangeEvent[] }> {
    return this.client.write('session.redo', { key: this.key });
  }

  updatePresence(presence: { cursor?: { blockId: string; offset: number }; selection?: unknown; status?: string }): void {
    this.client.socket.volatile.emit('presence.update', { key: this.key, ...presence });
  }

  /** @internal */
  async start(since?: number): Promise<void> {
    if (since !== undefined) this.seq = since;
    await this.resume(since === undefined);
  }

  /** @internal Joins again and applies what was missed since `seq`. */
  async resume(fresh = false): Promise<void> {
    const joined = await this.client.request<{
      session: { seq: number; version: number };
      presence: Member[];
      missed?: ChangeEvent[];
      code?: string;
    }>('session.join', fresh ? { key: this.key } : { key: this.key, since: this.seq });
    this.version = joined.session.version;
    this.presenceChanged(joined.presence);
    if (fresh) this.seq = Math.max(this.seq, joined.session.seq);
    else if (joined.code === 'CHANGES_EXPIRED') {
      this.seq = joined.session.seq;
      this.pending.clear();
      for (const listener of this.listeners.reset) listener();
    }
    const missed = joined.missed ?? [];
    for (const change of missed) this.receive(change);
    // A page of missed changes is bounded (CHANGES_MAX_PAGE_BYTES): ask again from where it ended.
    const last = missed.at(-1)?.seq;
    if (last !== undefined && this.seq >= last && last < joined.session.seq) await this.resume();
  }

  /** @internal Delivers changes in seq order: duplicates dropped, early ones held until the gap fills. */
  receive(change: ChangeEvent): void {
    if (change.seq <= this.seq) return;
    this.pending.set(change.seq, change);
    while (this.pending.has(this.seq + 1)) {
      const next = this.pending.get(this.seq + 1)!;
      this.pending.delete(next.seq);
      this.seq = next.seq;
      if (next.session) this.version = next.session.version;
      for (const listener of this.listeners.change) listener(next);
    }
    if (this.pending.size === 0) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    } else {
      this.gapTimer ??= setTimeout(() => {
        this.gapTimer = undefined;
        if (this.pending.size > 0) void this.resume().catch(() => undefined);
      }, GAP_WAIT_MS);
    }
  }

  /** @internal */
  presenceChanged(members: Member[]): void {
    this.members = members;
    for (const listener of this.listeners.presence) listener(members);
  }

  /** @internal */
  conflicted(conflict: Conflict): void {
    for (const listener of this.listeners.conflict) listener(conflict);
  }

  /** @internal */
  roleChanged(role: string): void {
    for (const listener of this.listeners.role) listener(role);
  }

  /** @internal */
  revoked(reason: string): void {
    clearTimeout(this.gapTimer);
    for (const listener of this.listeners.revoked) listener(reason);
  }

  private async write(event: string, body: Record<string, unknown>): Promise<BlockView> {
    const { block } = await this.client.write<{ block: BlockView }>(event, { key: this.key, ...body });
    return block;
  }
}
