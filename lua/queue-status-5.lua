--[[
queue-status-5.lua: where a user stands in a sale's waiting room. Read-only.

The state is read in the same script as the stock, so the moment the stock reaches 0 (the
reserve script's DECR) every waiter's next read says sold_out: there is no broadcast to miss.
A split sale's stock is spread over slots this script cannot read: it reads the room's copy of
the total, which the admission tick writes, so sold_out follows the last unit within a tick.

KEYS[1] waiting     zset: userId -> place score (see queue-join-5.lua)
KEYS[2] admissions  hash: userId -> pass expiry (ms)
KEYS[3] meta        hash: rate, lastTick, inlet, ...
KEYS[4] stock       string: units remaining; absent before the preload
                    (a split sale, stockBuckets > 1: the room's copy of the total remaining,
                    {sale:ID}:q:stock, written by every admission tick: see queue-admit-6.lua)
KEYS[5] buyers      hash: userId -> live slots
                    (a split sale: {sale:ID}:q:bought, see queue-convert-3.lua)

ARGV[1] userId
ARGV[2] startsAt (ms)

Returns {code, rank, passExpiresAt, nowMs, rateMilli, lastTickMs, inlet}:
  code 0   not in the waiting room
  code 2   waiting at 0-based `rank`
  code 3   admitted (pass expires at passExpiresAt, or the user already bought)
  code 4   waiting, but the stock is 0 (sold out; the place is kept in case a unit comes back)
  code 5   was admitted and did not buy before the pass expired: the place is gone
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

local exp = tonumber(redis.call('HGET', KEYS[2], userId))
if exp then
  if exp > now or redis.call('HEXISTS', KEYS[5], userId) == 1 then return reply(3, -1, exp) end
  return reply(5, -1, exp)
end
local rank = redis.call('ZRANK', KEYS[1], userId)
if not rank then return reply(0, -1, 0) end
if now >= tonumber(ARGV[2]) and redis.call('GET', KEYS[4]) == '0' then return reply(4, rank, 0) end
return reply(2, rank, 0)
