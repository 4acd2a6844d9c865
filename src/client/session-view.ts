import { Emitter } from './emitter.js';
import type { Outbox, Outcome } from './outbox.js';
import type { Edit, OutboxEntry } from './outbox-store.js';
import type { BlockView, ChangeEvent } from './protocol.js';
import { TesseraError, type SessionFeed, type TesseraClient } from './tessera-client.js';

export interface SessionViewOptions {
  /** Sends updates with `merge: "fields"`: a stale edit that touched only fields nobody else changed is merged, not a conflict. */
  merge?: 'fields';
  /** Folds an update into the previous update of the same block while that one waits unsent (default true). */
  coalesce?: boolean;
}

export interface SessionViewEvents extends Record<string, unknown> {
  /** The document changed: the server's blocks with the pending edits on top, in order. */
  document: BlockView[];
  /** An edit of this session has its outcome. */
  outcome: Outcome;
  /** The server no longer keeps the changes since this view's seq: open the session again. */
  reset: undefined;
}

type Anchor = { afterId?: string; beforeId?: string };

const byPosition = (a: BlockView, b: BlockView) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0);
const anchorOf = (anchor: Anchor): Anchor =>
  anchor.afterId !== undefined ? { afterId: anchor.afterId } : anchor.beforeId !== undefined ? { beforeId: anchor.beforeId } : {};

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The top-level fields whose value differs between two contents (a removed field too). */
function changedFields(from: Record<string, unknown>, to: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(from), ...Object.keys(to)])].filter((field) => !same(from[field], to[field]));
}

/** `content` with `fields` taken from `mine` (or removed where `mine` has none). */
function overlay(content: Record<string, unknown>, mine: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const touched = new Set(fields);
  return Object.fromEntries([
    ...Object.entries(content).flatMap(([field, value]): Array<[string, unknown]> => {
      if (!touched.has(field)) return [[field, value]];
      return Object.hasOwn(mine, field) ? [[field, mine[field]]] : [];
    }),
    ...Object.entries(mine).filter(([field]) => touched.has(field) && !Object.hasOwn(content, field)),
  ]);
}

/** Puts `block` where `anchor` says in `list` (no anchor, or one not in the list: at the end). */
function place(list: BlockView[], block: BlockView, anchor: Anchor): void {
  const after = anchor.afterId === undefined ? -1 : list.findIndex((b) => b.id === anchor.afterId);
  const before = anchor.beforeId === undefined ? -1 : list.findIndex((b) => b.id === anchor.beforeId);
  list.splice(after >= 0 ? after + 1 : before >= 0 ? before : list.length, 0, block);
}

/**
 * One session as its user sees it: the blocks the server acknowledged, with the user's own
 * pending edits applied on top at once. Every edit goes through the outbox; each incoming
 * change moves the server state and the pending edits are laid on it again.
 */
export class SessionView extends Emitter<SessionViewEvents> {
  private readonly stored = new Map<string, BlockView>();
  private computed?: BlockView[];
  private readonly off: Array<() => void>;

  constructor(
    readonly feed: SessionFeed,
    readonly outbox: Outbox,
    blocks: BlockView[],
    private readonly options: SessionViewOptions = {},
  ) {
    super();
    for (const block of blocks) this.stored.set(block.id, block);
    this.off = [
      feed.on('change', (change) => this.receive(change)),
      feed.on('reset', () => this.emit('reset', undefined)),
      outbox.on('queued', (entry) => entry.session === this.key && this.changed()),
      outbox.on('outcome', (outcome) => outcome.entry.session === this.key && this.settled(outcome)),
    ];
  }

  get key(): string {
    return this.feed.key;
  }

  /** The document: ordered blocks, the user's pending edits included (a pending block's `position` is empty). */
  get blocks(): BlockView[] {
    return (this.computed ??= this.compute());
  }

  block(id: string): BlockView | undefined {
    return this.blocks.find((block) => block.id === id);
  }

  /** The block as the server last told (no pending edit on it). */
  serverBlock(id: string): BlockView | undefined {
    return this.stored.get(id);
  }

  /** The edits of this session (or of one block) that have no outcome yet, in order. */
  pending(id?: string): OutboxEntry[] {
    return this.outbox.pending(this.key).filter((entry) => id === undefined || entry.edit.id === id);
  }

  /** A new block with its own id (made here, so later edits can name it before the server answers). */
  create(block: { id?: string; type: string; content: Record<string, unknown> } & Anchor): Promise<OutboxEntry> {
    const id = block.id ?? globalThis.crypto.randomUUID();
    return this.queue({ op: 'create', id, type: block.type, content: block.content, ...anchorOf(block) });
  }

  /** `content` replaces the whole content, as on the server. */
  update(id: string, change: { type?: string; content?: Record<string, unknown> }, options: { merge?: 'fields' } = {}) {
    const merge = options.merge ?? this.options.merge;
    const seen = this.block(id);
    const edit: Edit = { op: 'update', id, version: this.versionOf(id), ...change, ...(merge && { merge }) };
    const fields = change.content && seen ? changedFields(seen.content, change.content) : undefined;
    return this.outbox.add(this.key, edit, { coalesce: this.options.coalesce ?? true, fields });
  }

  move(id: string, anchor: Anchor): Promise<OutboxEntry> {
    return this.queue({ op: 'move', id, version: this.versionOf(id), ...anchorOf(anchor) });
  }

  delete(id: string): Promise<OutboxEntry> {
    return this.queue({ op: 'delete', id, version: this.versionOf(id) });
  }

  /** Stops following the feed and the outbox (the outbox keeps sending). */
  close(): void {
    for (const off of this.off) off();
  }

  private queue(edit: Edit): Promise<OutboxEntry> {
    return this.outbox.add(this.key, edit);
  }

  /** The version an edit made now is based on: what the user's pending edits will have made of the block. */
  private versionOf(id: string): number {
    const block = this.block(id);
    if (!block) throw new TesseraError('BLOCK_NOT_FOUND', 'This session has no block with this id.', { id });
    return block.version;
  }

  private compute(): BlockView[] {
    const list = [...this.stored.values()].sort(byPosition);
    for (const entry of this.pending()) {
      const edit = entry.edit;
      const at = list.findIndex((block) => block.id === edit.id);
      switch (edit.op) {
        case 'create': {
          if (at >= 0) break; // the server's copy of it arrived before its ack
          const { id, type, content } = edit;
          const by = { userId: null, displayName: '' };
          const block = {
            id,
            sessionKey: this.key,
            type,
            content,
            position: '',
            version: 1,
            createdAt: entry.madeAt,
            updatedAt: entry.madeAt,
            updatedBy: by,
          };
          place(list, block, edit);
          break;
        }
        case 'update': {
          if (at < 0) break;
          const block = list[at];
          // A merge keeps what others changed since the user saw the block, as the server will.
          const content = !edit.content
            ? block.content
            : edit.merge && entry.fields
              ? overlay(block.content, edit.content, entry.fields)
              : edit.content;
          list[at] = { ...block, type: edit.type ?? block.type, content, version: edit.version + 1 };
          break;
        }
        case 'move':
          if (at >= 0) place(list, { ...list.splice(at, 1)[0], version: edit.version + 1 }, edit);
          break;
        case 'delete':
          if (at >= 0) list.splice(at, 1);
          break;
        default:
          edit satisfies never;
      }
    }
    return list;
  }

  private receive(change: ChangeEvent): void {
    if (!change.block) return;
    if (change.kind === 'block.deleted') this.stored.delete(change.block.id);
    else this.accept(change.block);
    this.changed();
  }

  private settled(outcome: Outcome): void {
    if (outcome.kind === 'conflict') this.accept(outcome.current);
    else if (outcome.kind !== 'rejected') {
      if (outcome.entry.edit.op === 'delete') this.stored.delete(outcome.entry.edit.id);
      else if (outcome.block) this.accept(outcome.block);
    }
    this.changed();
    this.emit('outcome', outcome);
  }

  private accept(block: BlockView): void {
    const known = this.stored.get(block.id);
    if (!known || known.version <= block.version) this.stored.set(block.id, block);
  }

  private changed(): void {
    this.computed = undefined;
    this.emit('document', this.blocks);
  }
}

/**
 * Opens a session's view: reads its blocks and seq over HTTP, then joins from that seq, so no
 * change between the two is missed. Edits the outbox holds for the session show at once.
 */
export async function openSessionView(
  client: TesseraClient,
  outbox: Outbox,
  key: string,
  options: SessionViewOptions = {},
): Promise<SessionView> {
  const response = await fetch(`${client.url}/api/sessions/${encodeURIComponent(key)}`, {
    headers: client.token ? { authorization: `Bearer ${client.token}` } : {},
  });
  const body = (await response.json().catch(() => ({}))) as { seq: number; blocks?: BlockView[]; code?: string; detail?: string };
  if (!response.ok) throw new TesseraError(body.code ?? `HTTP_${response.status}`, body.detail ?? response.statusText);
  await outbox.open();
  const view = new SessionView(client.feed(key), outbox, body.blocks ?? [], options);
  await client.join(key, body.seq);
  return view;
}
