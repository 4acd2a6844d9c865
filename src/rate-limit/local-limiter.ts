/**
 * A decision as the scripts return it: outcome (0 allowed, 1 limited, 2 blocked), limit, remaining, ms until a slot
 * frees, and (from Redis only) what became of the idempotency lease asked for with it.
 */
export type RawDecision = [number, number, number, number, number?];

export interface WindowSpec {
  key: string;
  limit: number;
  windowMs: number;
}

/**
 * The same sliding logs in this process's memory, used only while Redis is unreachable:
 * limits then hold per instance instead of per cluster, and requests are never failed
 * because the limiter's store is away.
 */
export class LocalLimiter {
  private readonly logs = new Map<string, number[]>();
  private readonly expiries = new Map<string, number>();
  private readonly offences = new Map<string, { count: number; until: number }>();
  private readonly pending = new Map<string, Map<string, number>>();

  consume(
    keys: { block: string; offences: string; windows: WindowSpec[] },
    cost: number,
    rules: { blockAfter: number; offenceWindowMs: number; blockMs: number },
  ): RawDecision {
    const now = Date.now();
    const blocked = this.ttl(keys.block, now);
    if (blocked > 0) return [2, 0, 0, blocked];
    let first: RawDecision | undefined;
    for (const w of keys.windows) {
      const log = this.log(w.key, now - w.windowMs);
      const reset = log.length ? log[0] + w.windowMs - now : w.windowMs;
      if (log.length + cost > w.limit) {
        const offence = this.offences.get(keys.offences);
        const count = offence && offence.until > now ? offence.count + 1 : 1;
        this.offences.set(keys.offences, { count, until: offence && offence.until > now ? offence.until : now + rules.offenceWindowMs });
        if (count >= rules.blockAfter) {
          this.expiries.set(keys.block, now + rules.blockMs);
          this.offences.delete(keys.offences);
        }
        return [1, w.limit, 0, reset];
      }
      first ??= [0, w.limit, w.limit - log.length - cost, reset];
    }
    for (const w of keys.windows) this.log(w.key, now - w.windowMs).push(...Array<number>(cost).fill(now));
    return first ?? [0, 0, 0, 0];
  }

  reserveLookup(
    keys: { misses: string; pending: string; block: string },
    limit: number,
    windowMs: number,
    nonce: string,
    pendingMs: number,
  ): [number, number] {
    const now = Date.now();
    const ttl = this.ttl(keys.block, now);
    if (ttl > 0) return [2, ttl];
    const misses = this.log(keys.misses, now - windowMs);
    const pending = this.pendingOf(keys.pending, now - pendingMs);
    if (misses.length + pending.size >= limit) return [1, 1000];
    pending.set(nonce, now);
    return [0, 0];
  }

  settleLookup(
    keys: { misses: string; pending: string; block: string },
    nonce: string,
    miss: boolean,
    limit: number,
    windowMs: number,
    blockMs: number,
  ): boolean {
    this.pending.get(keys.pending)?.delete(nonce);
    if (!miss) return false;
    const now = Date.now();
    const log = this.log(keys.misses, now - windowMs);
    log.push(now);
    if (log.length < limit) return false;
    this.expiries.set(keys.block, now + blockMs);
    this.logs.delete(keys.misses);
    return true;
  }

  private pendingOf(key: string, after: number): Map<string, number> {
    const pending = this.pending.get(key) ?? new Map<string, number>();
    for (const [nonce, at] of pending) if (at <= after) pending.delete(nonce);
    this.pending.set(key, pending);
    return pending;
  }

  /** Removes the newest `cost` entries of each window, as the give-back script does. */
  giveBack(windows: WindowSpec[], cost: number): number {
    const now = Date.now();
    for (const w of windows) this.log(w.key, now - w.windowMs).splice(-cost, cost);
    return 1;
  }

  ttl(key: string, now = Date.now()): number {
    const until = this.expiries.get(key);
    if (until === undefined || until <= now) {
      this.expiries.delete(key);
      return -2;
    }
    return until - now;
  }

  forget(keys: string[]): void {
    for (const key of keys) {
      this.logs.delete(key);
      this.expiries.delete(key);
      this.offences.delete(key);
      this.pending.delete(key);
    }
  }

  /** Drops logs with nothing left in their window, and lapsed blocks and offences, so memory follows the active callers. */
  sweep(maxWindowMs: number): void {
    const horizon = Date.now() - maxWindowMs;
    for (const [key, log] of this.logs) if (!log.length || log[log.length - 1] < horizon) this.logs.delete(key);
    for (const key of this.expiries.keys()) this.ttl(key);
    for (const [key, pending] of this.pending) if (!pending.size) this.pending.delete(key);
    const now = Date.now();
    for (const [key, offence] of this.offences) if (offence.until <= now) this.offences.delete(key);
  }

  private log(key: string, after: number): number[] {
    const log = (this.logs.get(key) ?? []).filter((t) => t > after);
    this.logs.set(key, log);
    return log;
  }
}
