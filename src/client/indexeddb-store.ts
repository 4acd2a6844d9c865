import { isOutboxEntry, type OutboxEntry, type OutboxStore } from './outbox-store.js';

const STORE = 'entries';

// The parts of IndexedDB this store uses, declared here so the package builds (and its
// declarations read) without the DOM library; a browser's `indexedDB` fits them.
interface IdbRequest<T> {
  readonly result: T;
  readonly error: Error | null;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbOpenRequest extends IdbRequest<IdbDatabase> {
  onupgradeneeded: (() => void) | null;
  onblocked: (() => void) | null;
}
interface IdbDatabase {
  transaction(store: string, mode: 'readonly' | 'readwrite'): IdbTransaction;
  createObjectStore(name: string, options: { keyPath: string }): unknown;
  close(): void;
}
interface IdbTransaction {
  readonly error: Error | null;
  objectStore(name: string): { getAll(): IdbRequest<unknown[]>; put(value: unknown): unknown; delete(key: string): unknown };
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
/** What `indexedDB` offers that this store needs. */
export interface IndexedDbFactory {
  open(name: string, version: number): IdbOpenRequest;
}

/** Resolves with a request's result once it succeeds. */
function done<T>(request: IdbRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

/** Resolves once a transaction is committed. */
function committed(transaction: IdbTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error ?? new Error('IndexedDB transaction failed'));
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
  });
}

/**
 * Entries in the browser's IndexedDB (one database per `name`): they survive a reload, a
 * closed tab and a restart of the browser. Every change is its own committed transaction.
 */
export class IndexedDbOutboxStore implements OutboxStore {
  private database?: Promise<IdbDatabase>;

  constructor(
    readonly name = 'tessera-outbox',
    private readonly factory: IndexedDbFactory = (globalThis as { indexedDB?: IndexedDbFactory }).indexedDB!,
  ) {}

  async load(): Promise<OutboxEntry[]> {
    const transaction = (await this.open()).transaction(STORE, 'readonly');
    const entries = await done(transaction.objectStore(STORE).getAll());
    return entries.filter(isOutboxEntry);
  }

  async put(entry: OutboxEntry): Promise<void> {
    const transaction = (await this.open()).transaction(STORE, 'readwrite');
    transaction.objectStore(STORE).put(entry);
    await committed(transaction);
  }

  async remove(key: string): Promise<void> {
    const transaction = (await this.open()).transaction(STORE, 'readwrite');
    transaction.objectStore(STORE).delete(key);
    await committed(transaction);
  }

  /** Closes the database (a later call opens it again). */
  async close(): Promise<void> {
    const database = this.database;
    this.database = undefined;
    (await database)?.close();
  }

  private open(): Promise<IdbDatabase> {
    this.database ??= new Promise((resolve, reject) => {
      const request = this.factory.open(this.name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'key' });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error('IndexedDB could not be opened'));
      request.onblocked = () => reject(new Error('IndexedDB is blocked by another tab holding an older version'));
    });
    return this.database;
  }
}
