import { randomInt } from 'node:crypto';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { Metrics } from '../metrics/metrics.service.js';
import { RedisService } from '../redis/redis.service.js';
import { CacheCounters } from './cache-stats.js';
import { CACHE_TTL_SECONDS, type CacheEntry } from './cache.types.js';

/**
 * Reads an entry and the generation of each of its tags in one round trip. A tag never
 * seen (or expired) gets a random generation, so an entry filled under an older life of
 * the tag can never match again.
 */
const READ_SCRIPT = `
local out = { redis.call('GET', KEYS[1]) or false }
for i = 2, #KEYS do
  local g = redis.call('GET', KEYS[i])
  if not g then
    g = ARGV[1]
    redis.call('SET', KEYS[i], g, 'EX', ARGV[2])
  end
  out[i] = g
end
return out`;

/** Longer than any entry's TTL: a generation outlives every entry stamped with it. */
const GENERATION_TTL_SECONDS = 2 * 24 * 3600;
const STATS_KEY = 'cache:stats';
const FLUSH_EVERY_MS = 1000;

/**
 * How a value is stored as text, and read back on a hit. Entries are kept as text beside
 * their tag generations, so a value that already is text (a document PostgreSQL wrote as
 * JSON) goes to Redis and back to the reply without being parsed or serialized here.
 */
export interface CacheCodec<T> {
  encode(value: T): string;
  /** May throw: the entry is then a miss. */
  decode(text: string): T;
  /** The length `encode` would give, when it is cheaper to tell: a value past the limit is then never encoded. */
  length?(value: T): number;
}

/** Small values as JSON (the default). */
export const JSON_CODEC: CacheCodec<unknown> = { encode: (value) => JSON.stringify(value), decode: (text) => JSON.parse(text) as unknown };

export interface Loadable<T> extends CacheEntry {
  load: () => Promise<T | null>;
}

type Read<T> = { hit: true; value: T } | { hit: false; gens: string[] | null };

/**
 * Cache-aside over Redis. Invalidation gives tags new (random) generations instead of
 * deleting keys (no KEYS, no SCAN on the write path). A reader stamps what it stores with the
 * generations it saw *before* loading, so a value loaded before a write commits and
 * stored after that write invalidated is stamped with the old generation and never
 * served: the classic stale write-back cannot happen.
 *
 * An entry is one string: the generations it was stamped with, comma-separated, a newline,
 * then the value's text (its codec's). A hit compares the first line and hands the rest to
 * the codec. A value whose text passes CACHE_MAX_VALUE_BYTES is not stored: it is read
 * from the database each time rather than pushed through Redis on every read.
 */
@Injectable()
export class CacheService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(CacheService.name);
  private readonly flights = new Map<string, Promise<unknown>>();
  /** Tags whose invalidation has not reached Redis yet: read around the cache until it has. */
  private readonly unconfirmed = new Set<string>();
  private readonly counters = new CacheCounters();
  private timer?: NodeJS.Timeout;

  private readonly requests;

  constructor(
    private readonly redis: RedisService,
    metrics: Metrics,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.requests = metrics.counter({
      name: 'cache_requests_total',
      help: 'Cache reads, by entry type and result (hit, miss)',
      labelNames: ['type', 'result'],
    });
  }

  onModuleInit(): void {
    this.redis.client.defineCommand('cacheRead', { lua: READ_SCRIPT });
    this.timer = setInterval(() => void this.tick(), FLUSH_EVERY_MS).unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.flushCounters();
  }

  /** The entry's value, or `load()`'s (stored for the next reader); `codec` turns it into the stored text and back. */
  async getOrSet<T>(entry: CacheEntry, load: () => Promise<T | null>, codec = JSON_CODEC as CacheCodec<T>): Promise<T | null> {
    const [value] = await this.getOrSetMany<T>([{ ...entry, load }], codec);
    return value;
  }

  /** All reads in one pipeline, every miss loaded (one loader per key per instance), all fills in one pipeline. */
  async getOrSetMany<T>(entries: Loadable<T>[], codec = JSON_CODEC as CacheCodec<T>): Promise<(T | null)[]> {
    const reads = await this.readAll(entries, codec);
    const fills: Array<{ entry: CacheEntry; gens: string[]; value: T }> = [];
    const values = await Promise.all(
      entries.map(async (entry, i) => {
        const read = reads[i];
        this.counters.count(entry.type, read.hit ? 'hits' : 'misses');
        this.requests.inc({ type: entry.type, result: read.hit ? 'hit' : 'miss' });
        if (read.hit) return read.value;
        if (!read.gens) return entry.load();
        const { value, leader } = await this.singleFlight(`${this.valueKey(entry)}|${read.gens.join(',')}`, entry.load);
        if (leader && value !== null) fills.push({ entry, gens: read.gens, value });
        return value;
      }),
    );
    await this.fillAll(fills, codec);
    return values;
  }

  /** Every entry carrying one of these tags becomes a miss on every instance. Throws if Redis cannot confirm it. */
  async invalidate(tags: readonly string[]): Promise<void> {
    for (const tag of tags) this.unconfirmed.add(tag);
    if (!this.connected()) throw new AppError('SERVICE_UNAVAILABLE', 'The cache cannot confirm the change yet; retry shortly.');
    // One SET per tag, not an explicit pipeline: auto-pipelining sends them in the same write
    // as every other request's commands of this event-loop turn. A new random generation
    // (not an INCR and its EXPIRE) is one command; entries only ever compare generations.
    const client = this.redis.client;
    await Promise.all(tags.map((tag) => client.set(this.genKey(tag), String(randomInt(1, 2 ** 47)), 'EX', GENERATION_TTL_SECONDS)));
    for (const tag of tags) this.unconfirmed.delete(tag);
  }

  async flushCounters(): Promise<void> {
    const counts = this.counters.take();
    if (counts.size === 0) return;
    const pipeline = this.redis.client.pipeline();
    for (const [field, n] of counts) pipeline.hincrby(STATS_KEY, field, n);
    const results = await pipeline.exec().catch(() => null);
    if (!results || results.some(([error]) => error)) this.counters.restore(counts);
  }

  private async readAll<T>(entries: CacheEntry[], codec: CacheCodec<T>): Promise<Read<T>[]> {
    const miss: Read<T> = { hit: false, gens: null };
    if (!this.connected() || entries.some((e) => e.tags?.some((t) => this.unconfirmed.has(t)))) return entries.map(() => miss);
    const client = this.redis.client as unknown as CacheReadClient;
    const seed = String(randomInt(1, 2 ** 47));
    // One script call per entry, auto-pipelined with the other requests' commands of this
    // turn: one socket write for all of them, where an explicit pipeline would be its own.
    const results = await Promise.allSettled(
      entries.map((entry) => {
        const keys = [this.valueKey(entry), ...(entry.tags ?? []).map((t) => this.genKey(t))];
        return client.cacheRead(keys.length, ...keys, seed, GENERATION_TTL_SECONDS);
      }),
    );
    return results.map((result) => {
      if (result.status === 'rejected') return miss;
      const [raw, ...gens] = result.value;
      const value = raw ? stampedValue(raw, gens.join(','), codec) : undefined;
      return value === undefined ? { hit: false, gens } : { hit: true, value };
    });
  }

  private async fillAll<T>(fills: Array<{ entry: CacheEntry; gens: string[]; value: T }>, codec: CacheCodec<T>): Promise<void> {
    if (fills.length === 0 || !this.connected()) return;
    const client = this.redis.client;
    const sets: Promise<unknown>[] = [];
    for (const { entry, gens, value } of fills) {
      if ((codec.length?.(value) ?? 0) > this.config.CACHE_MAX_VALUE_BYTES) continue;
      const text = codec.encode(value);
      if (exceeds(text, this.config.CACHE_MAX_VALUE_BYTES)) continue;
      sets.push(client.set(this.valueKey(entry), `${gens.join(',')}\n${text}`, 'EX', CACHE_TTL_SECONDS[entry.type]));
    }
    await Promise.allSettled(sets);
  }

  /** Joins the load already running for `key`, or starts it (the leader stores what it loaded). */
  private async singleFlight<T>(key: string, load: () => Promise<T | null>): Promise<{ value: T | null; leader: boolean }> {
    const inFlight = this.flights.get(key) as Promise<T | null> | undefined;
    if (inFlight) return { value: await inFlight, leader: false };
    const flight = load().finally(() => this.flights.delete(key));
    this.flights.set(key, flight);
    return { value: await flight, leader: true };
  }

  private async tick(): Promise<void> {
    await this.flushCounters();
    if (this.unconfirmed.size === 0) return;
    await this.invalidate([...this.unconfirmed]).catch((error: Error) => {
      this.logger.warn(`cache invalidation of ${this.unconfirmed.size} tag(s) still pending: ${error.message}`);
    });
  }

  /** While Redis is away the cache steps aside at once, instead of queueing commands until they time out. */
  private connected(): boolean {
    return this.redis.client.status === 'ready';
  }

  private valueKey(entry: CacheEntry): string {
    return `cache:v:${entry.type}:${entry.key}`;
  }

  private genKey(tag: string): string {
    return `cache:g:${tag}`;
  }
}

/**
 * The value of an entry stamped with exactly `gens`, else undefined (a miss): stamped
 * otherwise, written by other code, or corrupted. Never an error.
 */
function stampedValue<T>(raw: string, gens: string, codec: CacheCodec<T>): T | undefined {
  const end = raw.indexOf('\n');
  if (end !== gens.length || !raw.startsWith(gens)) return undefined;
  try {
    return codec.decode(raw.slice(end + 1));
  } catch {
    return undefined;
  }
}

/** True when `text` takes more than `max` bytes as UTF-8; measures only when its length leaves it in doubt. */
function exceeds(text: string, max: number): boolean {
  if (text.length > max) return true;
  return text.length * 3 > max && Buffer.byteLength(text) > max;
}

interface CacheReadClient {
  cacheRead(numKeys: number, ...args: Array<string | number>): Promise<[string | null, ...string[]]>;
}
