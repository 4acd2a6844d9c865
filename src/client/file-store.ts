import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isOutboxEntry, type OutboxEntry, type OutboxStore } from './outbox-store.js';

/**
 * Entries in one JSON file (Node.js): every change rewrites the file through a temporary file
 * and a rename, so a crash leaves either the old list or the new one, never half of one.
 * One process at a time may use a file.
 */
export class FileOutboxStore implements OutboxStore {
  private entries?: Map<string, OutboxEntry>;
  private writing: Promise<void> = Promise.resolve();
  private generation = 0;
  private written = 0;

  constructor(readonly path: string) {}

  async load(): Promise<OutboxEntry[]> {
    const entries = await this.read();
    return [...entries.values()].map((entry) => structuredClone(entry));
  }

  async put(entry: OutboxEntry): Promise<void> {
    (await this.read()).set(entry.key, structuredClone(entry));
    await this.persist();
  }

  async remove(key: string): Promise<void> {
    if ((await this.read()).delete(key)) await this.persist();
  }

  private async read(): Promise<Map<string, OutboxEntry>> {
    if (this.entries) return this.entries;
    let stored: unknown = [];
    try {
      stored = JSON.parse(await readFile(this.path, 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    this.entries ??= new Map((Array.isArray(stored) ? stored.filter(isOutboxEntry) : []).map((entry) => [entry.key, entry]));
    return this.entries;
  }

  /** Writes are chained; a write covers every change made before it starts, so later ones it covered are skipped. */
  private persist(): Promise<void> {
    const generation = ++this.generation;
    const next = this.writing.then(async () => {
      if (this.written >= generation) return;
      const covers = this.generation;
      const temporary = `${this.path}.${process.pid}.tmp`;
      await mkdir(dirname(this.path), { recursive: true });
      await writeFile(temporary, JSON.stringify([...this.entries!.values()]));
      await rename(temporary, this.path);
      this.written = covers;
    });
    this.writing = next.catch(() => undefined);
    return next;
  }
}
