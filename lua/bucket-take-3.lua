--[[
bucket-take-3.lua: take stock out of one bucket of a split sale, to move it to another bucket.

A sale with stockBuckets > 1 keeps its stock in several buckets (distinct hash slots); a buyer
always buys from their home bucket (that is where their slots are, so the per-user limit stays
exact). When a home bucket runs dry while another still has stock, the sale store moves units:
this script takes them here and records the move; bucket-give-3.lua adds them at the destination
once (by move id); the store then drops the record. A move whose give never ran (a crash) stays
recorded here, so reconcile can finish it, and a rebuild can void it: no unit is lost or counted
twice. Half of what is left moves (at least 1, at most ARGV[3]), so a hungry bucket does not
come back for every unit, and a busy one is not emptied at once.

KEYS[1] meta   hash of this bucket (see reserve-6.lua); movedOut counts units taken out
KEYS[2] stock  string: units remaining in this bucket
KEYS[3] moves  hash: moveId -> "<destination bucket>:<units>", until the give is done
ARGV[1] moveId
ARGV[2] destination bucket index
ARGV[3] most units wanted

Returns:
  {1, units}  taken and recorded
  {0}         nothing to take (this bucket is empty too)
  {-1}        this bucket is not loaded
  {-2}        the sale is blocked until reconcile: stock stays where it is
]]
local blocked = redis.call('HMGET', KEYS[1], 'startsAt', 'blocked')
if not blocked[1] then return {-1} end
if blocked[2] == '1' then return {-2} end
local stock = tonumber(redis.call('GET', KEYS[2]) or '0')
if stock < 1 then return {0} end
local units = math.max(1, math.floor(stock / 2))
units = math.min(units, tonumber(ARGV[3]))

-- All checks passed: from here on, only writes.
redis.call('DECRBY', KEYS[2], units)
redis.call('HINCRBY', KEYS[1], 'movedOut', units)
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ':' .. units)
return {1, units}
