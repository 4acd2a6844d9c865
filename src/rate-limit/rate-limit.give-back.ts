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
