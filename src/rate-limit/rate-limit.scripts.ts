/** Takes an idempotency key's lease for `ms` unless another run holds it: 1 taken, 0 held, -1 none asked (ms 0). */
const LEASE_FUNCTION = `
local function lease(key, ms)
  if tonumber(ms) <= 0 then return -1 end
  if redis.call('SET', key, '1', 'PX', ms, 'NX') then return 1 end
  return 0
end`;

/**
 * Sliding-window *log*: each allowed request is a member of a sorted set scored by
 * Redis's own clock (TIME), so decisions are exact across any number of instances and
 * immune to their clock skew. A log (not the cheaper two-counter approximation) because
 * the API promises exact limits and that refused requests never count; the limits are
 * small (at most about a thousand per window), so the memory per caller is small too.
 * Each decision is one script: blocks, every window (the caller's and the action's
 * global one), the offence count that leads to a block, and the stats.
 *
 * An allowed request of a write with an idempotency key takes the key's in-flight lease in
 * the same step (SET NX PX), so a keyed write costs no round trip of its own before its work;
 * a refused one takes none.
 *
 * KEYS: 1 caller block, 2 caller offences, 3 stats hash, 4 offenders zset, 5 lease, 6.. windows
 * ARGV: 1 action, 2 identity, 3 cost, 4 block after, 5 offence window ms, 6 block ms, 7 nonce,
 *       8 lease ms (0: no lease), then a (limit, window ms) pair per window key
 * Returns { outcome (0 allowed, 1 limited, 2 blocked), limit, remaining, ms until a slot frees,
 *   lease (1 taken, 0 held by another run, -1 none asked) }.
 */
export const CONSUME_SCRIPT = consumeScript(false);

/**
 * CONSUME and the key-probe RESERVE (below) in one step, for a limited route that names a
 * key: the probe is checked first (blocked: 4, as many lookups in flight as misses left: 3,
 * with nothing taken), then the windows; when both allow, the window entries and the
 * pending slot are taken together. One round trip before the lookup instead of two.
 * KEYS: 1-4 as CONSUME, 5 probe misses log, 6 probe pending, 7 probe block, 8 lease, 9.. windows
 * ARGV: 1-7 as CONSUME (the nonce is also the pending slot's), 8 probe limit, 9 probe
 *       window ms, 10 pending ttl ms, 11 lease ms (0: none), then a (limit, window ms) pair per window key
 */
export const CONSUME_WITH_PROBE_SCRIPT = consumeScript(true);

function consumeScript(probe: boolean): string {
  // The lease key and its ms come right before the windows' keys and pairs.
  const [w, p] = probe ? [9, 12] : [6, 9];
  return `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local action, identity, cost = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function refuse(kind, limit, retry)
  redis.call('HINCRBY', KEYS[3], action .. ':' .. kind, 1)
  redis.call('ZINCRBY', KEYS[4], 1, identity)
  if redis.call('ZCARD', KEYS[4]) > 1000 then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, 0) end
  return { kind == 'blocked' and 2 or 1, limit, 0, retry, -1 }
end
${LEASE_FUNCTION}${
    probe
      ? `
local probeBlocked = redis.call('PTTL', KEYS[7])
if probeBlocked > 0 then
  redis.call('HINCRBY', KEYS[3], 'session-lookup:blocked', 1)
  return { 4, 0, 0, probeBlocked, -1 }
end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - tonumber(ARGV[9]))
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[10]))
if redis.call('ZCARD', KEYS[5]) + redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[8]) then
  redis.call('HINCRBY', KEYS[3], 'session-lookup:limited', 1)
  return { 3, 0, 0, 1000, -1 }
end`
      : ''
  }
local blocked = redis.call('PTTL', KEYS[1])
if blocked > 0 then return refuse('blocked', 0, blocked) end
local first = nil
for i = ${w}, #KEYS do
  local j = ${p} + (i - ${w}) * 2
  local limit, window = tonumber(ARGV[j]), tonumber(ARGV[j + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  local reset = window
  if oldest[2] then reset = tonumber(oldest[2]) + window - now end
  if count + cost > limit then
    local offences = redis.call('INCR', KEYS[2])
    if offences == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
    if offences >= tonumber(ARGV[4]) then
      redis.call('SET', KEYS[1], '1', 'PX', ARGV[6])
      redis.call('DEL', KEYS[2])
    end
    return refuse('limited', limit, reset)
  end
  if not first then first = { limit, limit - count - cost, reset } end
end
for i = ${w}, #KEYS do
  for c = 1, cost do redis.call('ZADD', KEYS[i], now, ARGV[7] .. ':' .. c) end
  redis.call('PEXPIRE', KEYS[i], ARGV[${p + 1} + (i - ${w}) * 2])
end${
    probe
      ? `
redis.call('ZADD', KEYS[6], now, ARGV[7])
redis.call('PEXPIRE', KEYS[6], ARGV[10])`
      : ''
  }
redis.call('HINCRBY', KEYS[3], action .. ':allowed', 1)
local leased = lease(KEYS[${w - 1}], ARGV[${p - 1}])
if not first then return { 0, 0, 0, 0, leased } end
return { 0, first[1], first[2], first[3], leased }`;
}

/**
 * The key-probe guard, in two atomic steps around every lookup that names a session key.
 * RESERVE runs before the lookup: an IP blocked for probing is refused; otherwise the
 * lookup takes a pending slot unless its misses in the window plus its lookups in flight
 * already reach the limit. SETTLE runs after it: a hit gives the slot back, a miss ("no
 * such session", or a PUT that proved the key free) moves it into the misses log, and the
 * miss that reaches the limit blocks the IP. So however many lookups an IP has in flight,
 * it never sees more than `limit` misses per window.
 *
 * RESERVE also takes a keyed write's idempotency lease once the slot is reserved (as CONSUME).
 *
 * RESERVE KEYS: 1 misses log, 2 pending, 3 block, 4 stats hash, 5 lease
 *         ARGV: 1 limit, 2 window ms, 3 nonce, 4 pending ttl ms, 5 lease ms (0: none)
 * Returns { outcome (0 reserved, 1 too many in flight, 2 blocked), ms until retry, lease (as CONSUME) }.
 */
export const PROBE_RESERVE_SCRIPT = `${LEASE_FUNCTION}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = redis.call('PTTL', KEYS[3])
if ttl > 0 then
  redis.call('HINCRBY', KEYS[4], 'session-lookup:blocked', 1)
  return { 2, ttl, -1 }
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[4]))
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[4], 'session-lookup:limited', 1)
  return { 1, 1000, -1 }
end
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return { 0, 0, lease(KEYS[5], ARGV[5]) }`;

/**
 * SETTLE (of a miss; a hit's slot goes back with a plain ZREM of the pending set)
 *   KEYS: 1 misses log, 2 pending, 3 block, 4 stats hash, 5 offenders
 *   ARGV: 1 nonce, 2 limit, 3 window ms, 4 block ms, 5 identity
 * Returns 1 when this miss blocked the IP.
 */
export const PROBE_SETTLE_SCRIPT = `
redis.call('ZREM', KEYS[2], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[4], 'session-lookup:limited', 1)
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[4])
  redis.call('DEL', KEYS[1])
  redis.call('ZINCRBY', KEYS[5], 1, ARGV[5])
  if redis.call('ZCARD', KEYS[5]) > 1000 then redis.call('ZREMRANGEBYRANK', KEYS[5], 0, 0) end
  return 1
end
return 0`;

/**
 * Gives back what an allowed decision took, when the request achieved nothing its window
 * counts. Takes the newest `cost` entries of each window: each entry is one unit, so the
 * count is exact; the window is at most one request's duration more lenient than if the
 * request's own entries had gone (they may be a little older than the newest).
 * KEYS: 1 stats hash, 2.. windows; ARGV: 1 action, 2 cost, 3.. window ms per window key.
 */
export const GIVE_BACK_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - tonumber(ARGV[i + 1]))
  redis.call('ZPOPMAX', KEYS[i], cost)
end
redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':allowed', -1)
return 1`;
