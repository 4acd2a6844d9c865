import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { InjectConfig, type AppConfig } from '../config/app-config.js';
import { RedisService } from '../redis/redis.service.js';

/** Redis time in milliseconds, so every worker's slots lapse by one clock. */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: slots, parked, parked owners. ARGV: token, ttl ms, cap, waiter, owner.
 * A free slot is taken (and the waiter leaves the parked set); none: the waiter is parked
 * (keeping its place if it already waits). 1: taken, 0: parked.
 */
const TAKE_SCRIPT = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[4])
  return 1
end
redis.call('ZADD', KEYS[2], 'NX', now, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ${24 * 3_600_000})
redis.call('SADD', KEYS[3], ARGV[5])
return 0`;

/** KEYS: slots. ARGV: token, ttl ms. The holder keeps its slot for another stretch. */
const RENEW_SCRIPT = `${NOW}
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

/**
 * KEYS: slots, parked, parked owners. ARGV: token ('' for none), cap, owner. Gives the slot
 * back and pops as many of the oldest parked waiters as slots are free now: the ones to wake.
 */
const GIVE_SCRIPT = `${NOW}
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[1], ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[1])
local woken = {}
if free > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], free)
  for i = 1, #popped, 2 do woken[#woken + 1] = popped[i] end
end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SREM', KEYS[3], ARGV[3]) end
return woken`;

interface SlotScripts {
  webhookSlotTake(...args: Array<string | number>): Promise<number>;
  webhookSlotRenew(...args: Array<string | number>): Promise<number>;
  webhookSlotGive(...args: Array<string | number>): Promise<string[]>;
}

/** One of an owner's WEBHOOK_OWNER_CONCURRENCY slots, held for one run. */
export interface OwnerSlot {
  owner: string;
  /** Empty when Redis could not be asked: the run went ahead without a slot. */
  token: string;
}

const PARKED_OWNERS = 'webhook-owners:parked';
/** Operators' webhooks (no owner) share one owner's slots. */
const OPERATORS = 'operators';

/**
 * Fair sharing of delivery attempts between webhook owners, cluster-wide: at most
 * WEBHOOK_OWNER_CONCURRENCY runs of one owner's webhooks at once, as a sorted set of slot
 * tokens scored by expiry (a killed worker's slot lapses with its lease). A run that finds its
 * owner's slots taken is parked (a sorted set per owner, oldest first) instead of retried on a
 * timer; each slot given back wakes the oldest parked. If Redis cannot be asked, runs go ahead:
 * fairness is given up before delivery is.
 */
@Injectable()
export class WebhookOwnerSlots implements OnModuleInit {
  private readonly logger = new Logger(WebhookOwnerSlots.name);
  private readonly cap: number;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: RedisService,
    @InjectConfig() config: AppConfig,
  ) {
    this.cap = config.WEBHOOK_OWNER_CONCURRENCY;
    // As long as a lane's lease: longer than one attempt can take, renewed before each attempt.
    this.ttlMs = config.WEBHOOK_TIMEOUT_MS * 2 + 5000;
  }

  onModuleInit(): void {
    this.redis.client.defineCommand('webhookSlotTake', { numberOfKeys: 3, lua: TAKE_SCRIPT });
    this.redis.client.defineCommand('webhookSlotRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
    this.redis.client.defineCommand('webhookSlotGive', { numberOfKeys: 3, lua: GIVE_SCRIPT });
  }

  /** A slot of the owner's for `waiter`, or null: `waiter` is parked until a slot is given back. */
  async take(ownerId: string | null, waiter: string): Promise<OwnerSlot | null> {
    const owner = ownerId ?? OPERATORS;
    const token = randomUUID();
    try {
      const taken = await this.scripts.webhookSlotTake(...this.keys(owner), token, this.ttlMs, this.cap, waiter, owner);
      return taken === 1 ? { owner, token } : null;
    } catch (error) {
      this.logger.warn(`webhook owner slots unavailable: ${(error as Error).message}`);
      return { owner, token: '' };
    }
  }

  async renew(slot: OwnerSlot): Promise<void> {
    if (!slot.token) return;
    await this.scripts.webhookSlotRenew(this.keys(slot.owner)[0], slot.token, this.ttlMs).catch(() => undefined);
  }

  /** Gives the slot back; the parked waiters to wake now. */
  async give(slot: OwnerSlot): Promise<string[]> {
    try {
      return await this.scripts.webhookSlotGive(...this.keys(slot.owner), slot.token, this.cap, slot.owner);
    } catch (error) {
      this.logger.warn(`webhook owner slots unavailable: ${(error as Error).message}`);
      return [];
    }
  }

  /** For every owner with parked waiters: as many of them as it has free slots (slots of killed workers lapse). */
  async wakeParked(): Promise<string[]> {
    const owners = await this.redis.client.smembers(PARKED_OWNERS);
    const woken = await Promise.all(owners.map((owner) => this.give({ owner, token: '' })));
    return woken.flat();
  }

  private keys(owner: string): [string, string, string] {
    return [`webhook-owner:${owner}:slots`, `webhook-owner:${owner}:parked`, PARKED_OWNERS];
  }

  private get scripts(): SlotScripts {
    return this.redis.client as unknown as SlotScripts;
  }
}
