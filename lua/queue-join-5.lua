--[[
queue-join-5.lua: put a user in a sale's waiting room, or return the place they already hold.

Time comes from Redis (TIME), so whether a user joined before the start (and is shuffled) or
after it (and queues first come, first served) is decided by one clock for every API. Joining
twice returns the same place. All checks come before the first write.

Places are one sorted set. A user who joins before the start gets the score the caller derived
from the sale's secret seed, in [0, 1): SHA-256(seed ":" userId) read as a fraction (see
apps/domain/admission/shuffle.ts), so the pre-start crowd is in seed order the moment the sale
starts, with nothing to do at the start. A later user gets 1 + a running arrival number, behind
every pre-start user, in arrival order.

KEYS[1] waiting     zset: userId -> place score
KEYS[2] admissions  hash: userId -> pass expiry (ms) of the user's admission
KEYS[3] meta        hash: seq (arrivals after the start), joined, inlet, rate, lastTick, ...
KEYS[4] stock       string: units remaining (see reserve-6.lua); absent before the preload
                    (a split sale, stockBuckets > 1: the room's copy of the total remaining,
                    {sale:ID}:q:stock, written by every admission tick: see queue-admit-6.lua)
KEYS[5] buyers      hash: userId -> live slots (see reserve-6.lua)
                    (a split sale: {sale:ID}:q:bought, see queue-convert-3.lua)

ARGV[1] userId
ARGV[2] the user's shuffle score, 0 <= score < 1 (used only before the start)
ARGV[3] startsAt (ms)
ARGV[4] endsAt (ms)

Returns {code, rank, passExpiresAt, nowMs, rateMilli, lastTickMs, inlet}:
  code 1   joined now, waiting at 0-based `rank`
  code 2   already waiting at `rank`
  code 3   already admitted (pass expires at passExpiresAt, or the user already bought)
  code 4   already waiting, but the stock is 0: sold out while they keep their place
  code -1  the sale has ended: nothing changed
  code -2  sold out and the user holds no place: nothing changed
rateMilli: admissions per second x 1000 (exponentially decaying, as of lastTickMs); inlet: the
live inlet, or "" when no admitter has run yet.
]]
local userId = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('HMGET', KEYS[3], 'rate', 'lastTick', 'inlet')
local rateMilli = math.floor((tonumber(m[1]) or 0) * 1000)
local lastTick = tonumber(m[2]) or 0
local inlet = m[3] or ''
local function reply(code, rank, exp)
  return {code, rank, exp, now, rateMilli, lastTick, inlet}
end

if now >= tonumber(ARGV[4]) then return reply(-1, -1, 0) end

local exp = tonumber(redis.call('HGET', KEYS[2], userId))
local lapsed = false
if exp then
  if exp > now or redis.call('HEXISTS', KEYS[5], userId) == 1 then return reply(3, -1, exp) end
  lapsed = true -- admitted, did not buy in time: joins again at the back
end

local remaining = tonumber(redis.call('GET', KEYS[4]) or '-1')
local started = now >= tonumber(ARGV[3])
local rank = redis.call('ZRANK', KEYS[1], userId)
if rank then
  if started and remaining == 0 then return reply(4, rank, 0) end
  return reply(2, rank, 0)
end
if started and remaining == 0 then return reply(-2, -1, 0) end

-- All checks passed: from here on, only writes.
if lapsed then redis.call('HDEL', KEYS[2], userId) end
local score
if started then
  score = 1 + redis.call('HINCRBY', KEYS[3], 'seq', 1)
else
  score = tonumber(ARGV[2])
end
redis.call('ZADD', KEYS[1], score, userId)
redis.call('HINCRBY', KEYS[3], 'joined', 1)
return reply(1, redis.call('ZRANK', KEYS[1], userId), 0)
