import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Principal } from '../common/principal.js';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { RedisService } from '../redis/redis.service.js';
import { Metrics } from '../metrics/metrics.service.js';
import { LocalLimiter, type RawDecision, type WindowSpec } from './local-limiter.js';
import { RATE_LIMITED_ACTIONS, resolvePolicies, type Policy, type RateLimitedAction, type Window } from './rate-limit.policies.js';
import {
  CONSUME_SCRIPT,
  CONSUME_WITH_PROBE_SCRIPT,
  GIVE_BACK_SCRIPT,
  PROBE_RESERVE_SCRIPT,
  PROBE_SETTLE_SCRIPT,
} from './rate-limit.scripts.js';

export type Decision =
  | { outcome: 'allowed'; limit: number | null; remaining: number; resetSeconds: number }
  | { outcome: 'limited' | 'blocked'; limit: number; retryAfterSeconds: number };

/** Answers that say "no session has this key": what someone enumerating keys sees (HTTP and sockets). */
export const isKeyProbeAnswer = (code: string) =>
  code === 'SESSION_NOT_FOUND' || code === 'INVALID_SESSION_KEY' || code === 'INVITE_NOT_FOUND';

/** The error a refused decision answers with, the same over HTTP and sockets. */
export function refusal(decision: Exclude<Decision, { outcome: 'allowed' }>, action?: string): AppError {
  const retryAfter = decision.retryAfterSeconds;
  return decision.outcome === 'blocked'
    ? new AppError('BLOCKED', `Too many refused requests; blocked for ${retryAfter} s.`, { retryAfter })
    : new AppError('RATE_LIMITED', `Rate limit of ${action ?? 'this action'} reached; retry in ${retryAfter} s.`, { retryAfter });
}

/** A reserved key-probe slot, settled as a hit or a miss once the lookup answered. */
export interface LookupTicket {
  ip: string;
  nonce: string;
}

/** Members of the limiter's logs: unique across instances (a random prefix per process) and cheap to make. */
const NONCE_PREFIX = randomBytes(6).toString('hex');
let nonces = 0;
const nextNonce = () => `${NONCE_PREFIX}${(nonces++).toString(36)}`;

/**
 * A keyed write's idempotency lease, asked for with its admission: the Redis key (under the
 * prefix) and how long it holds. Its outcome: `taken`, `held` by another run of the key, or
 * `unavailable` (decided without Redis: the write goes ahead without one).
 */
export interface LeaseAsk {
  name: string;
  ms: number;
}
export type LeaseOutcome = 'taken' | 'held' | 'unavailable';

const leaseOutcome = (raw: unknown, source: 'redis' | 'local'): LeaseOutcome | undefined => {
  if (source === 'local') return 'unavailable';
  const leased = Number(raw);
  return leased === 1 ? 'taken' : leased === 0 ? 'held' : undefined;
};

/** A slot whose lookup never settled (its instance died) frees itself after this long. */
const PENDING_LOOKUP_MS = 30_000;
/** How long a starting instance waits for its rate-limit connection before it decides locally. */
const READY_WAIT_MS = 3000;

const UNLIMITED: Decision = { outcome: 'allowed', limit: null, remaining: 0, resetSeconds: 0 };
export const STATS_KEY = 'rl:stats';
export const OFFENDERS_KEY = 'rl:offenders';

interface Scripted {
  rlConsume(...args: Array<string | number>): Promise<RawDecision>;
  rlConsumeWithProbe(...args: Array<string | number>): Promise<RawDecision>;
  rlGiveBack(...args: Array<string | number>): Promise<number>;
  rlProbeReserve(...args: Array<string | number>): Promise<[number, number, number?]>;
  rlProbeSettle(...args: Array<string | number>): Promise<number>;
}

/** Who a limit applies to: the user, or the IP when anonymous. */
export const identityOf = (principal: Principal) => (principal.kind === 'user' ? `user:${principal.userId}` : `ip:${principal.ip}`);

/** Every key that holds state about one identity, for the operators' reset. */
export function keysOf(identity: string): string[] {
  const ip = identity.startsWith('ip:') ? identity.slice(3) : null;
  return [
    `rl:block:${identity}`,
    `rl:off:${identity}`,
    ...RATE_LIMITED_ACTIONS.map((action) => `rl:w:${action}:${identity}`),
    ...(ip ? [`rl:probe:${ip}`, `rl:probepending:${ip}`, `rl:probeblock:${ip}`] : []),
  ];
}

/**
 * Rate-limit decisions: one Lua script per decision on Redis (exact across instances),
 * or the same logs in memory while Redis is unreachable (`fallbackDecisions` counts them).
 */
@Injectable()
export class RateLimiter implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly client: Redis;
  private readonly policies: Record<RateLimitedAction, Policy>;
  readonly local = new LocalLimiter();
  fallbackDecisions = 0;
  private sweeper?: NodeJS.Timeout;
  /** Lookups of this instance waiting for a probe slot of their IP, first come first served. */
  private readonly slotWaiters = new Map<string, Array<() => void>>();
  /** Slots of hits to give back, by IP, sent together once per event-loop turn. */
  private hits = new Map<string, string[]>();
  private hitsSent?: Promise<void>;

  private readonly decisions;

  constructor(
    redis: RedisService,
    @InjectConfig() private readonly config: AppConfig,
    metrics: Metrics,
  ) {
    this.client = redis.create('rate-limit');
    this.policies = resolvePolicies(config.RATE_LIMIT_POLICIES);
    this.decisions = metrics.counter({
      name: 'rate_limit_decisions_total',
      help: 'Rate-limit decisions, by action, outcome (allowed, limited, blocked) and source (redis, or local while Redis is unreachable)',
      labelNames: ['action', 'outcome', 'source'],
    });
  }

  async onModuleInit(): Promise<void> {
    this.client.defineCommand('rlConsume', { lua: CONSUME_SCRIPT });
    this.client.defineCommand('rlConsumeWithProbe', { lua: CONSUME_WITH_PROBE_SCRIPT });
    this.client.defineCommand('rlGiveBack', { lua: GIVE_BACK_SCRIPT });
    this.client.defineCommand('rlProbeReserve', { numberOfKeys: 5, lua: PROBE_RESERVE_SCRIPT });
    this.client.defineCommand('rlProbeSettle', { numberOfKeys: 5, lua: PROBE_SETTLE_SCRIPT });
    const longest = Math.max(3600, this.config.KEY_PROBE_WINDOW_SECONDS, this.config.RATE_LIMIT_BLOCK_SECONDS) * 1000;
    this.sweeper = setInterval(() => this.local.sweep(longest), 60_000).unref();
    // Decisions taken before the connection is up would be this instance's alone (local): the
    // instance starts serving once it is, or after READY_WAIT_MS if Redis is away (the
    // outage mode, from the start).
    if (this.client.status !== 'ready') {
      await once(this.client, 'ready', { signal: AbortSignal.timeout(READY_WAIT_MS) }).catch(() => undefined);
    }
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  get enabled(): boolean {
    return this.config.RATE_LIMIT_ENABLED;
  }

  /** Takes `cost` from the caller's and the action's global window, or refuses. */
  async consume(action: RateLimitedAction, principal: Principal, cost = 1): Promise<Decision> {
    return (await this.consumeLeased(action, principal, cost)).decision;
  }

  /**
   * `consume`, taking `lease` with the decision when it allows (no lease: undefined, when no
   * decision went to Redis).
   */
  async consumeLeased(
    action: RateLimitedAction,
    principal: Principal,
    cost = 1,
    lease?: LeaseAsk,
  ): Promise<{ decision: Decision; lease?: LeaseOutcome }> {
    if (!this.enabled || principal.kind === 'admin') return { decision: UNLIMITED };
    const identity = identityOf(principal);
    const windows = this.windowsOf(action, identity, this.ownWindow(action, principal));
    if (windows.length === 0) return { decision: UNLIMITED };
    const keys = { block: `rl:block:${identity}`, offences: `rl:off:${identity}`, windows };
    const { value: raw, source } = await this.decide(action, identity, cost, keys, this.blockRules(), lease);
    const decision = this.count(action, toDecision(raw), source);
    return { decision, lease: lease && decision.outcome === 'allowed' ? leaseOutcome(raw[4], source) : undefined };
  }

  /**
   * `take` and `reserveLookup` in one step, for a limited route that names a key: the probe
   * is decided first (a refusal takes nothing from the windows), then the windows; the
   * ticket and what was taken come back only when both allowed.
   */
  async takeWithLookup(
    action: RateLimitedAction,
    principal: Principal,
    cost: number,
    lease?: LeaseAsk,
  ): Promise<Take & { probe: Decision; ticket?: LookupTicket }> {
    const identity = identityOf(principal);
    const windows = principal.kind === 'admin' ? [] : this.windowsOf(action, identity, this.ownWindow(action, principal));
    if (!this.enabled || windows.length === 0) {
      const { decision: probe, ticket, lease: leased } = await this.reserveLookup(principal.ip, lease);
      return { decision: UNLIMITED, taken: null, probe, ticket, lease: leased };
    }
    const at = performance.now();
    const probeKeys = this.probeKeys(principal.ip);
    const keys = { block: `rl:block:${identity}`, offences: `rl:off:${identity}`, windows };
    const rules = this.blockRules();
    const nonce = nextNonce();
    const probeLimit = this.config.KEY_PROBE_LIMIT;
    const probeWindowMs = this.config.KEY_PROBE_WINDOW_SECONDS * 1000;
    const { value: raw, source } = await this.onRedis(
      () =>
        (this.client as unknown as Scripted).rlConsumeWithProbe(
          8 + windows.length,
          keys.block,
          keys.offences,
          STATS_KEY,
          OFFENDERS_KEY,
          probeKeys.misses,
          probeKeys.pending,
          probeKeys.block,
          lease?.name ?? NO_LEASE,
          ...windows.map((w) => w.key),
          action,
          identity,
          cost,
          rules.blockAfter,
          rules.offenceWindowMs,
          rules.blockMs,
          nonce,
          probeLimit,
          probeWindowMs,
          PENDING_LOOKUP_MS,
          lease?.ms ?? 0,
          ...windows.flatMap((w) => [w.limit, w.windowMs]),
        ),
      (): RawDecision => {
        const [probed, retry] = this.local.reserveLookup(probeKeys, probeLimit, probeWindowMs, nonce, PENDING_LOOKUP_MS);
        if (probed !== 0) return [probed + 2, 0, 0, retry];
        const decided = this.local.consume(keys, cost, rules);
        if (decided[0] !== 0) this.local.settleLookup(probeKeys, nonce, false, 0, 0, 0);
        return decided;
      },
    );
    const outcome = Number(raw[0]);
    if (outcome >= 3) {
      const retryAfterSeconds = Math.max(1, Math.ceil(Number(raw[3]) / 1000));
      const probe = this.count(
        'key-probe',
        { outcome: outcome === 4 ? 'blocked' : 'limited', limit: probeLimit, retryAfterSeconds },
        source,
      );
      return { decision: UNLIMITED, taken: null, probe };
    }
    const probe = this.count('key-probe', UNLIMITED, source);
    const decision = this.count(action, toDecision(raw), source);
    if (decision.outcome !== 'allowed') return { decision, taken: null, probe };
    const leased = lease && leaseOutcome(raw[4], source);
    return { decision, taken: { action, windows, cost, at }, probe, ticket: { ip: principal.ip, nonce }, lease: leased };
  }

  private blockRules() {
    return {
      blockAfter: this.config.RATE_LIMIT_BLOCK_AFTER,
      offenceWindowMs: this.config.RATE_LIMIT_BLOCK_WINDOW_SECONDS * 1000,
      blockMs: this.config.RATE_LIMIT_BLOCK_SECONDS * 1000,
    };
  }

  /** One window decision: the consume script on Redis, or the same logs in memory while it is away. */
  private decide(
    action: RateLimitedAction,
    identity: string,
    cost: number,
    keys: { block: string; offences: string; windows: WindowSpec[] },
    rules: { blockAfter: number; offenceWindowMs: number; blockMs: number },
    lease?: LeaseAsk,
  ): Promise<{ value: RawDecision; source: 'redis' | 'local' }> {
    const { windows } = keys;
    return this.onRedis(
      () =>
        (this.client as unknown as Scripted).rlConsume(
          5 + windows.length,
          keys.block,
          keys.offences,
          STATS_KEY,
          OFFENDERS_KEY,
          lease?.name ?? NO_LEASE,
          ...windows.map((w) => w.key),
          action,
          identity,
          cost,
          rules.blockAfter,
          rules.offenceWindowMs,
          rules.blockMs,
          nextNonce(),
          lease?.ms ?? 0,
          ...windows.flatMap((w) => [w.limit, w.windowMs]),
        ),
      () => this.local.consume(keys, cost, rules),
    );
  }

  /**
   * Before a lookup that names a session key: takes one of the IP's key-probe slots, or
   * refuses (blocked for probing, or as many lookups in flight as misses it has left).
   * The returned ticket must be settled once the lookup has answered.
   */
  async reserveLookup(ip: string, lease?: LeaseAsk): Promise<{ decision: Decision; ticket?: LookupTicket; lease?: LeaseOutcome }> {
    if (!this.enabled) return { decision: UNLIMITED };
    const keys = this.probeKeys(ip);
    const nonce = nextNonce();
    const { value: raw, source } = await this.onRedis(
      () =>
        (this.client as unknown as Scripted).rlProbeReserve(
          keys.misses,
          keys.pending,
          keys.block,
          STATS_KEY,
          lease?.name ?? NO_LEASE,
          this.config.KEY_PROBE_LIMIT,
          this.config.KEY_PROBE_WINDOW_SECONDS * 1000,
          nonce,
          PENDING_LOOKUP_MS,
          lease?.ms ?? 0,
        ),
      () =>
        this.local.reserveLookup(keys, this.config.KEY_PROBE_LIMIT, this.config.KEY_PROBE_WINDOW_SECONDS * 1000, nonce, PENDING_LOOKUP_MS),
      false,
    );
    const [outcome, retryMs] = raw.map(Number);
    const retryAfterSeconds = Math.max(1, Math.ceil(retryMs / 1000));
    if (outcome === 0) {
      const leased = lease && leaseOutcome((raw as unknown[])[2], source);
      return { decision: this.count('key-probe', UNLIMITED, source), ticket: { ip, nonce }, lease: leased };
    }
    const limit = this.config.KEY_PROBE_LIMIT;
    return { decision: this.count('key-probe', { outcome: outcome === 2 ? 'blocked' : 'limited', limit, retryAfterSeconds }, source) };
  }

  /**
   * Waits until a lookup of this instance from `ip` settles (its slot may be free), or for
   * `ms` (slots held on other instances free without telling this one). One waiter is woken
   * per settled lookup, so a crowd of waiters costs Redis one retry per freed slot.
   */
  slotFreed(ip: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const queue = this.slotWaiters.get(ip) ?? [];
      this.slotWaiters.set(ip, queue);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = queue.indexOf(wake);
        if (at >= 0) queue.splice(at, 1);
        if (queue.length === 0 && this.slotWaiters.get(ip) === queue) this.slotWaiters.delete(ip);
        resolve();
      }, ms);
      queue.push(wake);
    });
  }

  private wakeOne(ip: string): void {
    const queue = this.slotWaiters.get(ip);
    const next = queue?.shift();
    if (queue?.length === 0) this.slotWaiters.delete(ip);
    next?.();
  }

  /**
   * After the lookup: a hit gives the slot back, a miss is counted (and may block the IP).
   * The hits of one event-loop turn go back together, one command per IP.
   */
  async settleLookup(ticket: LookupTicket, miss: boolean): Promise<void> {
    if (!miss) return this.giveSlotBack(ticket);
    try {
      await this.settleMiss(ticket);
    } finally {
      this.wakeOne(ticket.ip);
    }
  }

  private giveSlotBack(ticket: LookupTicket): Promise<void> {
    const nonces = this.hits.get(ticket.ip) ?? [];
    nonces.push(ticket.nonce);
    this.hits.set(ticket.ip, nonces);
    this.hitsSent ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.sendHits());
    return this.hitsSent;
  }

  private async sendHits(): Promise<void> {
    const hits = this.hits;
    this.hits = new Map();
    this.hitsSent = undefined;
    await Promise.all(
      [...hits].map(async ([ip, nonces]) => {
        const keys = this.probeKeys(ip);
        try {
          await this.onRedis(
            () => this.client.zrem(keys.pending, ...nonces),
            () => {
              for (const nonce of nonces) this.local.settleLookup(keys, nonce, false, 0, 0, 0);
              return nonces.length;
            },
            false,
          );
        } catch {
          // An unsettled slot frees itself after PENDING_LOOKUP_MS.
        } finally {
          for (const _ of nonces) this.wakeOne(ip);
        }
      }),
    );
  }

  private async settleMiss(ticket: LookupTicket): Promise<void> {
    const keys = this.probeKeys(ticket.ip);
    const blockMs = this.config.KEY_PROBE_BLOCK_SECONDS * 1000;
    const windowMs = this.config.KEY_PROBE_WINDOW_SECONDS * 1000;
    await this.onRedis(
      () =>
        (this.client as unknown as Scripted).rlProbeSettle(
          keys.misses,
          keys.pending,
          keys.block,
          STATS_KEY,
          OFFENDERS_KEY,
          ticket.nonce,
          this.config.KEY_PROBE_LIMIT,
          windowMs,
          blockMs,
          `ip:${ticket.ip}`,
        ),
      () => Number(this.local.settleLookup(keys, ticket.nonce, true, this.config.KEY_PROBE_LIMIT, windowMs, blockMs)),
      false,
    );
  }

  private probeKeys(ip: string) {
    return { misses: `rl:probe:${ip}`, pending: `rl:probepending:${ip}`, block: `rl:probeblock:${ip}` };
  }

  /** Forgets every window, offence and block of one identity, here and in Redis. */
  async reset(identity: string): Promise<void> {
    const keys = keysOf(identity);
    this.local.forget(keys);
    await this.client
      .multi()
      .del(...keys)
      .zrem(OFFENDERS_KEY, identity)
      .exec();
  }

  /**
   * `consume`, remembering what it took so that `giveBack` can return it: for actions that
   * count only what a request achieved (a session created, not an existing one opened).
   */
  async take(action: RateLimitedAction, principal: Principal, cost = 1, lease?: LeaseAsk): Promise<Take> {
    const at = performance.now();
    const { decision, lease: leased } = await this.consumeLeased(action, principal, cost, lease);
    if (decision.outcome !== 'allowed' || decision.limit === null) return { decision, taken: null, lease: leased };
    return {
      decision,
      taken: { action, windows: this.windowsOf(action, identityOf(principal), this.ownWindow(action, principal)), cost, at },
      lease: leased,
    };
  }

  /**
   * Takes `cost` from the window of a subject that is not the caller (the account a login
   * names), by the policy's per-IP column. Its refusals are counted in the stats but never
   * lead to a block: the subject may well be the victim, not the one sending the requests.
   */
  async takeFor(action: RateLimitedAction, identity: string, cost = 1): Promise<Take> {
    if (!this.enabled) return { decision: UNLIMITED, taken: null };
    const at = performance.now();
    const windows = this.windowsOf(action, identity, perIpWindow(this.policies[action]));
    if (windows.length === 0) return { decision: UNLIMITED, taken: null };
    const keys = { block: `rl:block:${identity}`, offences: `rl:off:${identity}`, windows };
    const rules = { blockAfter: NEVER_BLOCK, offenceWindowMs: this.config.RATE_LIMIT_BLOCK_WINDOW_SECONDS * 1000, blockMs: 1 };
    const { value: raw, source } = await this.decide(action, identity, cost, keys, rules);
    const decision = this.count(action, toDecision(raw), source);
    return { decision, taken: decision.outcome === 'allowed' ? { action, windows, cost, at } : null };
  }

  /**
   * Returns what `take` took: the request achieved nothing that the window counts (its
   * allowed decision leaves the stats too).
   */
  async giveBack(taken: Taken | null): Promise<void> {
    if (!taken || !this.enabled) return;
    // Entries older than the window have left it already: nothing of theirs to give back.
    const elapsed = performance.now() - taken.at;
    const windows = taken.windows.filter((w) => elapsed < w.windowMs);
    if (windows.length === 0) return;
    await this.onRedis(
      () =>
        (this.client as unknown as Scripted).rlGiveBack(
          1 + windows.length,
          STATS_KEY,
          ...windows.map((w) => w.key),
          taken.action,
          taken.cost,
          ...windows.map((w) => w.windowMs),
        ),
      () => this.local.giveBack(windows, taken.cost),
    );
  }

  /** The window of the caller's plan for `action`: per IP when anonymous, none for operators. */
  private ownWindow(action: RateLimitedAction, principal: Principal): Window {
    if (principal.kind === 'admin') return null;
    const policy = this.policies[action];
    return principal.kind === 'anonymous' ? perIpWindow(policy) : policy[principal.plan];
  }

  /** The caller's own window (when its plan has one) and the action's global window. */
  private windowsOf(action: RateLimitedAction, identity: string, own: Window): WindowSpec[] {
    const global = this.policies[action].global;
    return [
      ...(own ? [{ key: `rl:w:${action}:${identity}`, limit: own.limit, windowMs: own.windowSeconds * 1000 }] : []),
      ...(global ? [{ key: `rl:w:${action}:*global*`, limit: global.limit, windowMs: global.windowSeconds * 1000 }] : []),
    ];
  }

  /** The Redis client of the limiter, for the stats. */
  get redis(): Redis {
    return this.client;
  }

  /** `window`: a rate-limit window decision, counted in `fallbackDecisions` when taken locally. */
  private async onRedis<T>(remote: () => Promise<T>, local: () => T, window = true): Promise<{ value: T; source: 'redis' | 'local' }> {
    if (this.client.status === 'ready') {
      try {
        return { value: await remote(), source: 'redis' };
      } catch (error) {
        this.logger.warn(`rate-limit decision taken locally: ${(error as Error).message}`);
      }
    }
    if (window) this.fallbackDecisions++;
    return { value: local(), source: 'local' };
  }

  private count(action: string, decision: Decision, source: 'redis' | 'local'): Decision {
    this.decisions.inc({ action, outcome: decision.outcome, source });
    return decision;
  }
}

function toDecision([outcome, limit, remaining, resetMs]: RawDecision): Decision {
  const seconds = Math.max(1, Math.ceil(Number(resetMs) / 1000));
  if (outcome === 0) return { outcome: 'allowed', limit: Number(limit), remaining: Number(remaining), resetSeconds: seconds };
  return { outcome: outcome === 2 ? 'blocked' : 'limited', limit: Number(limit), retryAfterSeconds: seconds };
}

/** What an allowed decision took from which windows, and when (this process's monotonic clock). */
export interface Taken {
  action: RateLimitedAction;
  windows: WindowSpec[];
  cost: number;
  at: number;
}

export interface Take {
  decision: Decision;
  /** Null when nothing was taken: refused, unlimited, or limits off. */
  taken: Taken | null;
  /** What became of the lease asked for with the decision; undefined when none was decided. */
  lease?: LeaseOutcome;
}

/** The lease key of a decision that asks for none: never written (its lease ms is 0). */
const NO_LEASE = 'rl:no-lease';

/** A policy's per-IP window: its `anonymous` column, else its FREE one. */
const perIpWindow = (policy: Policy): Window => (policy.anonymous !== undefined ? policy.anonymous : policy.FREE);

/** An offence count no caller reaches: refusals of `takeFor` never become blocks. */
const NEVER_BLOCK = 2 ** 31;
