--[[
bucket-give-3.lua: add the units of a move (see bucket-take-3.lua) to the destination bucket, once.

The move id is remembered in KEYS[3]: a repeated give (a retry, reconcile finishing a move)
changes nothing. A rebuild of the sale adds the ids of moves it voided to KEYS[3] too, so a
give that arrives late cannot add units the rebuild already counted.

KEYS[1] meta     hash of the destination bucket; movedIn counts units received
KEYS[2] stock    string: units remaining in the destination bucket
KEYS[3] movesIn  set: ids of moves received (or voided)
ARGV[1] moveId
ARGV[2] units

Returns:
  {1, remaining}  added
  {0}             this move was received (or voided) before: nothing changed
  {-1}            the destination is not loaded: nothing changed (reconcile settles the move)
]]
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return {0} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end

-- All checks passed: from here on, only writes.
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'movedIn', tonumber(ARGV[2]))
return {1, redis.call('INCRBY', KEYS[2], tonumber(ARGV[2]))}
