--[[
reserve-6.lua: reserve one unit of a sale's stock for a user, atomically.

Every check runs before the first write, so the script never half-applies. On success it
decrements the stock, marks the user's slot, records the order message for the Kafka handoff
(kept until Kafka acknowledges it) and, when the stock reaches zero, publishes sold-out.
Time comes from Redis (TIME), so no gateway or API clock decides whether a sale is open.

KEYS[1] meta     hash: startsAt, endsAt (ms), perUserLimit, priceCents, paymentTimeoutSeconds,
                 total, accepted, blocked ("1" while the sale needs reconcile); with stock
                 buckets, each bucket has its own (see bucket-take-3.lua)
KEYS[2] stock    string: units remaining
KEYS[3] buyers   hash: userId -> bitmask of the user's live slots (bit k set = slot k+1 live)
KEYS[4] handoff  hash: orderId -> order message JSON, until Kafka acknowledges it
KEYS[5] due      zset: orderId -> ms after which the relay republishes it
KEYS[6] idem     hash: userId .. "\n" .. Idempotency-Key -> orderId

ARGV[1] orderId (minted by the caller, time-ordered)
ARGV[2] userId
ARGV[3] Idempotency-Key, or "" for none
ARGV[4] sold-out pub/sub channel, or "" when the sale has several stock buckets (one bucket
        running dry is not the sale selling out: the sale store announces that itself)
ARGV[5] saleId
ARGV[6] handoff grace in ms (the relay leaves the record alone this long)
ARGV[7] the order message's head, JSON built by the caller up to amountCents's value:
        {"v":1,"orderId":..,"saleId":..,"userId":..,"quantity":1,"amountCents":
        (the script appends the price, slot, acceptedAt and payBy it decides: concatenation
        costs Redis far less than cjson.encode of a table, on the one script of the hot path)

Returns:
  {1, slot, remaining, acceptedAtMs, payByMs, message}
                                               reserved; message (JSON) is also kept in KEYS[4]
  {2, orderId}                                 this user's Idempotency-Key already reserved orderId
  {-1}  the sale is not loaded in Redis
  {-2}  the sale is blocked until reconcile (Redis lost data)
  {-3}  the sale has not started
  {-4}  the sale has ended
  {-5}  the user already holds perUserLimit live orders
  {-6}  sold out
]]
local meta = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'perUserLimit', 'priceCents', 'paymentTimeoutSeconds', 'blocked')
if not meta[1] then return {-1} end

local userId = ARGV[2]
local idemField = nil
if ARGV[3] ~= '' then
  idemField = userId .. '\n' .. ARGV[3]
  local previous = redis.call('HGET', KEYS[6], idemField)
  if previous then return {2, previous} end
end

if meta[6] == '1' then return {-2} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(meta[1]) then return {-3} end
if now >= tonumber(meta[2]) then return {-4} end

local limit = tonumber(meta[3])
local mask = tonumber(redis.call('HGET', KEYS[3], userId) or '0')
local slot = 0
for k = 0, limit - 1 do
  if bit.band(mask, bit.lshift(1, k)) == 0 then
    slot = k + 1
    break
  end
end
if slot == 0 then return {-5} end

local remaining = tonumber(redis.call('GET', KEYS[2]) or '0')
if remaining < 1 then return {-6} end

-- Built before the first write: a malformed sale hash fails here, having changed nothing.
local orderId = ARGV[1]
local payBy = now + tonumber(meta[5]) * 1000
local message = ARGV[7] .. tonumber(meta[4]) .. ',"slot":' .. slot .. ',"acceptedAt":' .. now .. ',"payBy":' .. payBy .. '}'

-- All checks passed: from here on, only writes.
remaining = redis.call('DECR', KEYS[2])
redis.call('HSET', KEYS[3], userId, bit.bor(mask, bit.lshift(1, slot - 1)))
redis.call('HINCRBY', KEYS[1], 'accepted', 1)
redis.call('HSET', KEYS[4], orderId, message)
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[6]), orderId)
if idemField then redis.call('HSET', KEYS[6], idemField, orderId) end
if remaining == 0 and ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return {1, slot, remaining, now, payBy, message}
