/** One edit as the outbox keeps it: made once, sent with its own key until its outcome is known. */
export type Edit =
  | { op: 'create'; id: string; type: string; content: Record<string, unknown>; afterId?: string; beforeId?: string }
  | { op: 'update'; id: string; version: number; type?: string; content?: Record<string, unknown>; merge?: 'fields' }
  | { op: 'move'; id: string; version: number; afterId?: string; beforeId?: string }
  | { op: 'delete'; id: string; version: number };

export interface OutboxEntry {
  /** The idempotency key the edit is sent with, every time: it names the entry too. */
  key: string;
  /** The session key. */
  session: string;
  /** The entry's place in the queue: entries are sent in this order. */
  order: number;
  edit: Edit;
  /** An update's top-level content fields that differ from the block as the user saw it (shown over a newer server block). */
  fields?: string[];
  /** When the edit was made (ISO 8601). */
  madeAt: string;
}

/**
 * Where the outbox keeps its entries between the moment an edit is made and the moment its
 * outcome is known. `put` adds an entry or replaces the one with the same key; every call
 * resolves once the change is durable (as durable as the store is).
 */
export interface OutboxStore {
  load(): Promise<OutboxEntry[]>;
  put(entry: OutboxEntry): Promise<void>;
  remove(key: string): Promise<void>;
}

/** Entries in memory only: they live as long as the process. */
export class MemoryOutboxStore implements OutboxStore {
  private readonly entries = new Map<string, OutboxEntry>();

  load(): Promise<OutboxEntry[]> {
    return Promise.resolve([...this.entries.values()].map((entry) => structuredClone(entry)));
  }

  put(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.key, structuredClone(entry));
    return Promise.resolve();
  }

  remove(key: string): Promise<void> {
    this.entries.delete(key);
    return Promise.resolve();
  }
}

/** Checks an entry read back from storage; anything else is skipped rather than sent. */
export function isOutboxEntry(value: unknown): value is OutboxEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<OutboxEntry>;
  const edit = entry.edit as Partial<Edit> | undefined;
  return (
    typeof entry.key === 'string' &&
    typeof entry.session === 'string' &&
    typeof entry.order === 'number' &&
    typeof entry.madeAt === 'string' &&
    typeof edit === 'object' &&
    edit !== null &&
    typeof edit.id === 'string' &&
    (edit.op === 'create' || edit.op === 'update' || edit.op === 'move' || edit.op === 'delete')
  );
}
