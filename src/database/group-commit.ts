export interface GroupCommitOptions<I, O> {
  /** At most this many items share one statement. 1: every item is applied alone. */
  maxBatch: number;
  /** How long the first item of a batch waits for others to join it. */
  maxWaitMs: number;
  /** Items with the same key never share a statement (the same row twice): the later one waits for the next batch. */
  keyOf: (item: I) => string;
  /** Applies a batch in one statement or transaction: one result per item, in order. */
  applyAll: (items: I[]) => Promise<O[]>;
  /** Applies one item alone. */
  applyOne: (item: I) => Promise<O>;
  /** Told the size of each batch as it is sent. */
  onBatch?: (size: number) => void;
  /** Told when a batch's statement failed as a whole and its items are applied one at a time. */
  onFallback?: (size: number) => void;
}

interface Waiting<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: the items submitted within one short tick are applied together, so a
 * burst of writes costs the database one statement and one commit instead of one each.
 * Each caller gets its own item's result. When the batch's statement fails as a whole
 * (a constraint one item broke, a lost connection), the batch's items are applied one
 * at a time, so a failure belongs to the items that cause it and to no other.
 */
export class GroupCommit<I, O> {
  private waiting: Array<Waiting<I, O>> = [];
  private timer?: NodeJS.Timeout;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: GroupCommitOptions<I, O>) {}

  submit(item: I): Promise<O> {
    if (this.options.maxBatch <= 1) return this.options.applyOne(item);
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length >= this.options.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxWaitMs);
    });
  }

  /** Applies whatever waits now, and resolves once every batch in flight has settled. */
  async drain(): Promise<void> {
    while (this.waiting.length > 0 || this.inFlight.size > 0) {
      if (this.waiting.length > 0) this.flush();
      await Promise.all([...this.inFlight]);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch: Array<Waiting<I, O>> = [];
    const later: Array<Waiting<I, O>> = [];
    const keys = new Set<string>();
    for (const waiting of this.waiting) {
      const key = this.options.keyOf(waiting.item);
      if (batch.length >= this.options.maxBatch || keys.has(key)) later.push(waiting);
      else {
        keys.add(key);
        batch.push(waiting);
      }
    }
    this.waiting = later;
    if (later.length > 0) this.timer = setTimeout(() => this.flush(), 0);
    this.options.onBatch?.(batch.length);
    const applied = this.apply(batch).finally(() => this.inFlight.delete(applied));
    this.inFlight.add(applied);
  }

  private async apply(batch: Array<Waiting<I, O>>): Promise<void> {
    if (batch.length > 1) {
      let results: O[] | undefined;
      try {
        results = await this.options.applyAll(batch.map((w) => w.item));
      } catch {
        // The statement failed as a whole: below, each item alone finds out whether it was its own fault.
      }
      if (results) {
        batch.forEach((w, i) => w.resolve(results[i]));
        return;
      }
      this.options.onFallback?.(batch.length);
    }
    for (const w of batch) await this.options.applyOne(w.item).then(w.resolve, w.reject);
  }
}
