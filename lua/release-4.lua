--[[
release-4.lua: return a closed order's unit to the stock and free the user's slot, exactly once.

Used when an unpaid order is closed (and by reconcile for a release that was lost). The order id
is remembered in KEYS[4], so a second call for the same order changes nothing: stock can never
be returned twice. Every check runs before the first write.

KEYS[1] meta      hash (see reserve-6.lua); `released` counts releases
KEYS[2] stock     string: units remaining
KEYS[3] buyers    hash: userId -> bitmask of live slots
KEYS[4] released  set: ids of orders whose unit was returned
ARGV[1] orderId
ARGV[2] userId
ARGV[3] slot (1-based) the order holds
ARGV[4] restock pub/sub channel
ARGV[5] saleId

Returns:
  {1, remaining}  released: stock +1, the slot is free, restock published
  {0}             this order was released before: nothing changed
  {-1}            the sale is not loaded in Redis: nothing changed (reconcile first)
  {-2}            the user's slot is not live: nothing changed (Redis and MySQL disagree; reconcile)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if redis.call('SISMEMBER', KEYS[4], ARGV[1]) == 1 then return {0} end
local bitv = bit.lshift(1, tonumber(ARGV[3]) - 1)
local mask = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
if bit.band(mask, bitv) == 0 then return {-2} end

-- All checks passed: from here on, only writes.
redis.call('SADD', KEYS[4], ARGV[1])
local remaining = redis.call('INCR', KEYS[2])
mask = bit.band(mask, bit.bnot(bitv))
if mask == 0 then
  redis.call('HDEL', KEYS[3], ARGV[2])
else
  redis.call('HSET', KEYS[3], ARGV[2], mask)
end
redis.call('HINCRBY', KEYS[1], 'released', 1)
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, remaining}
