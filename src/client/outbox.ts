import { Emitter } from './emitter.js';
import { MemoryOutboxStore, type Edit, type OutboxEntry, type OutboxStore } from './outbox-store.js';
import type { BlockView } from './protocol.js';
import { TesseraError, type TesseraClient } from './tessera-client.js';

/** Refusals that say "later": the edit stays queued and is sent again, with its key, after a pause. */
const LATER = new Set(['RATE_LIMITED', 'BLOCKED', 'SERVER_FULL', 'INTERNAL_ERROR', 'NOT_READY']);
const LATER_MAX_MS = 10_000;

/** What became of a queued edit; every entry gets exactly one. */
export type Outcome =
  /** Stored as made; `block` is the stored block (none for a delete). */
  | { kind: 'applied'; entry: OutboxEntry; block?: BlockView }
  /** Based on a stale version, merged by the server with the fields others changed (`merge: "fields"`). */
  | { kind: 'merged'; entry: OutboxEntry; block: BlockView }
  /** Someone else changed the block first: `current` is the server's block; nothing of the edit was stored. */
  | { kind: 'conflict'; entry: OutboxEntry; current: BlockView }
  /** Refused for another reason (no longer allowed, block gone, too large...): nothing was stored. */
  | { kind: 'rejected'; entry: OutboxEntry; error: TesseraError };

export interface OutboxOptions {
  /**
   * How many entries may be out at once (default 16). Only entries that touch different
   * blocks and anchors go together, so the result is the queue's order whatever the order
   * the server applies them in; 1 sends strictly one at a time.
   */
  concurrency?: number;
}

/** Enough to hide the round trip on a replay; small enough not to meet a per-socket rate limit at once. */
const DEFAULT_CONCURRENCY = 16;

export type SyncStatus = 'online' | 'offline' | 'syncing';

export interface OutboxEvents extends Record<string, unknown> {
  /** An entry was queued (or a queued one changed). */
  queued: OutboxEntry;
  outcome: Outcome;
  /** `online`: connected, nothing unsent; `syncing`: connected, edits being sent; `offline`. */
  status: { status: SyncStatus; unsent: number };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A durable queue of edits. Each edit gets its idempotency key when it is made and keeps it:
 * entries are sent in order (independent ones together), again and again (same key) across lost acks,
 * reconnects and restarts, and each leaves the store only once its outcome is known.
 */
export class Outbox extends Emitter<OutboxEvents> {
  private entries: OutboxEntry[] = [];
  private opened?: Promise<void>;
  private sending?: Promise<void>;
  private readonly inFlight = new Set<string>();
  /** Store writes not finished yet, by key: an entry is never sent before its latest form is stored. */
  private readonly writes = new Map<string, Promise<void>>();
  private lastOrder = 0;
  private lastStatus = '';

  /** How many independent entries may be out at once (1: strictly one at a time). */
  private readonly concurrency: number;

  constructor(
    readonly client: TesseraClient,
    readonly store: OutboxStore = new MemoryOutboxStore(),
    options: OutboxOptions = {},
  ) {
    super();
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
    client.socket.on('connect', () => {
      this.announce();
      void this.flush();
    });
    client.socket.on('disconnect', () => this.announce());
  }

  /** Reads the store (once) and starts sending what it holds: edits made before a reload or a restart. */
  open(): Promise<void> {
    this.opened ??= this.store.load().then((stored) => {
      const known = new Set(this.entries.map((entry) => entry.key));
      this.entries = [...stored.filter((entry) => !known.has(entry.key)), ...this.entries].sort((a, b) => a.order - b.order);
      this.lastOrder = Math.max(this.lastOrder, ...this.entries.map((entry) => entry.order));
      this.announce();
      void this.flush();
    });
    return this.opened;
  }

  /** The entries not settled yet, in order (of one session, or all). */
  pending(session?: string): OutboxEntry[] {
    return this.entries.filter((entry) => session === undefined || entry.session === session);
  }

  get unsent(): number {
    return this.entries.length;
  }

  get status(): SyncStatus {
    if (!this.client.socket.connected) return 'offline';
    return this.entries.length > 0 ? 'syncing' : 'online';
  }

  /**
   * Queues an edit and resolves once it is stored. With `coalesce`, an update that follows an
   * update of the same block still waiting behind others (never sent) is folded into it.
   */
  async add(session: string, edit: Edit, options: { coalesce?: boolean; fields?: string[] } = {}): Promise<OutboxEntry> {
    await this.open();
    const last = this.entries.at(-1);
    if (options.coalesce && edit.op === 'update' && last && this.unsentFor(last) && last.session === session) {
      const previous = last.edit;
      if (previous.op === 'update' && previous.id === edit.id && previous.merge === edit.merge) {
        last.edit = { ...previous, ...(edit.type !== undefined && { type: edit.type }), ...(edit.content && { content: edit.content }) };
        if (last.fields || options.fields) last.fields = [...new Set([...(last.fields ?? []), ...(options.fields ?? [])])];
        await this.persist(last);
        return last;
      }
    }
    const entry: OutboxEntry = {
      key: globalThis.crypto.randomUUID(),
      session,
      order: ++this.lastOrder,
      edit,
      ...(options.fields && { fields: options.fields }),
      madeAt: new Date().toISOString(),
    };
    this.entries.push(entry);
    await this.persist(entry);
    void this.flush();
    return entry;
  }

  /** Sends what is queued (it waits for the connection); resolves when the queue is empty or the client closed. */
  flush(): Promise<void> {
    this.sending ??= this.drain().finally(() => {
      this.sending = undefined;
      this.announce();
    });
    return this.sending;
  }

  /** Resolves once every entry queued so far has its outcome. */
  async settled(): Promise<void> {
    await this.open();
    while (this.entries.length > 0 && !this.client.isClosed) await this.flush();
  }

  /** True while `entry` was never sent and will not be before it is read again: it may still change. */
  private unsentFor(entry: OutboxEntry): boolean {
    return this.entries[0] !== entry && !this.inFlight.has(entry.key);
  }

  private async drain(): Promise<void> {
    const readable = await this.open().then(
      () => true,
      () => false,
    );
    if (!readable) return; // the store cannot be read: `open()` tells the caller
    while (!this.client.isClosed) {
      const window = this.window();
      if (window.length === 0) return;
      for (const entry of window) this.inFlight.add(entry.key);
      this.announce();
      let outcomes: Outcome[];
      try {
        outcomes = await Promise.all(
          window.map(async (entry) => {
            await this.writes.get(entry.key);
            return this.send(entry);
          }),
        );
      } catch {
        return; // the client closed: the entries stay stored for the next start
      } finally {
        for (const entry of window) this.inFlight.delete(entry.key);
      }
      // Outcomes are told in the order the edits were made.
      for (const outcome of outcomes) await this.settle(outcome);
    }
  }

  /**
   * The entries sent together: from the head of the queue, as long as none touches a block,
   * or an anchor (`afterId`, `beforeId`, the end of the session), that an earlier one in the
   * window touches. Whatever order the server applies them in, the result is the same as in
   * the queue's order.
   */
  private window(): OutboxEntry[] {
    const taken = new Set<string>();
    const window: OutboxEntry[] = [];
    for (const entry of this.entries) {
      if (window.length >= this.concurrency) break;
      const edit = entry.edit;
      const touched = [edit.id];
      if (edit.op === 'create' || edit.op === 'move') touched.push(edit.afterId ?? edit.beforeId ?? ' end');
      const names = touched.map((id) => `${entry.session}/${id}`);
      if (names.some((name) => taken.has(name))) break;
      for (const name of names) taken.add(name);
      window.push(entry);
    }
    return window;
  }

  private async send(entry: OutboxEntry): Promise<Outcome> {
    const { op, ...body } = entry.edit;
    for (let attempt = 0; ; attempt++) {
      try {
        const ack = await this.client.write<{ block?: BlockView & { merged?: true } }>(
          `block.${op}`,
          { key: entry.session, ...body },
          { idempotencyKey: entry.key, deadlineMs: Infinity },
        );
        if (ack.block?.merged) {
          const { merged: _merged, ...block } = ack.block;
          return { kind: 'merged', entry, block };
        }
        return { kind: 'applied', entry, block: ack.block };
      } catch (error) {
        if (!(error instanceof TesseraError) || this.client.isClosed) throw error;
        if (error.code === 'VERSION_CONFLICT') return { kind: 'conflict', entry, current: error.details.current as BlockView };
        if (!LATER.has(error.code)) return { kind: 'rejected', entry, error };
        const retryAfter = Number(error.details.retryAfter);
        await pause(
          Number.isFinite(retryAfter) && retryAfter > 0
            ? Math.min(LATER_MAX_MS, retryAfter * 1000)
            : Math.min(LATER_MAX_MS, 250 * 2 ** Math.min(attempt, 6)),
        );
      }
    }
  }

  /**
   * Records an outcome. The entries queued behind it for the same block were made on top of
   * it: after a conflict each meets the same conflict (sending them would overwrite the other
   * write); after a merge the next one is rebased onto the merged block before it is sent.
   * Followers are settled before the entry leaves the store, so a crash in between sends the
   * entry again (answered from its record) and settles them the same way.
   */
  private async settle(outcome: Outcome): Promise<void> {
    const { entry } = outcome;
    const followers = this.entries.filter((other) => other !== entry && other.session === entry.session && other.edit.id === entry.edit.id);
    if (outcome.kind === 'conflict') {
      for (const follower of followers) {
        await this.store.remove(follower.key);
        this.entries = this.entries.filter((other) => other !== follower);
        this.emit('outcome', { kind: 'conflict', entry: follower, current: outcome.current });
      }
    } else if (outcome.kind === 'merged' && followers[0]) {
      const next = followers[0];
      const [edit, nextEdit] = [entry.edit, next.edit];
      const expected = 'version' in edit ? edit.version + 1 : 1;
      if ('version' in nextEdit && nextEdit.version === expected && outcome.block.version !== expected) {
        next.edit = rebase(edit, nextEdit, outcome.block);
        await this.persist(next);
      }
    }
    await this.store.remove(entry.key);
    this.entries = this.entries.filter((other) => other !== entry);
    this.emit('outcome', outcome);
    this.announce();
  }

  private async persist(entry: OutboxEntry): Promise<void> {
    const write = (this.writes.get(entry.key) ?? Promise.resolve()).catch(() => undefined).then(() => this.store.put(entry));
    this.writes.set(entry.key, write);
    this.emit('queued', entry);
    this.announce();
    try {
      await write;
    } finally {
      if (this.writes.get(entry.key) === write) this.writes.delete(entry.key);
    }
  }

  private announce(): void {
    const status = this.status;
    const now = `${status}:${this.entries.length}`;
    if (now === this.lastStatus) return;
    this.lastStatus = now;
    this.emit('status', { status, unsent: this.entries.length });
  }
}

/**
 * The edit that followed `before` (same block), moved onto `merged`: based on its version, and
 * for an update, the top-level content fields it changed over `before` put on the merged content.
 */
function rebase(before: Edit, next: Edit, merged: BlockView): Edit {
  if (next.op !== 'update' || before.op !== 'update' || !next.content) return { ...next, version: merged.version } as Edit;
  const mine = before.content ?? merged.content;
  const written = next.content;
  const changed = new Set(
    [...new Set([...Object.keys(mine), ...Object.keys(written)])].filter(
      (field) => JSON.stringify(mine[field]) !== JSON.stringify(written[field]),
    ),
  );
  // Built from entries, never by assignment, so a key like "__proto__" stays plain data.
  const content = Object.fromEntries([
    ...Object.entries(merged.content).flatMap(([field, value]): Array<[string, unknown]> => {
      if (!changed.has(field)) return [[field, value]];
      return Object.hasOwn(written, field) ? [[field, written[field]]] : [];
    }),
    ...Object.entries(written).filter(([field]) => changed.has(field) && !Object.hasOwn(merged.content, field)),
  ]);
  return { ...next, version: merged.version, content };
}
