--[[
queue-convert-2.lua: an admitted user bought: free their place at once (rather than when the
pass expires), so the next tick can admit someone for the next unit. Idempotent.

KEYS[1] admitted  zset: userId -> pass expiry (ms), users holding an admission
KEYS[2] meta      hash: converted (counter)
ARGV[1] userId

Returns 1 when the place was freed here, 0 when it was not held (already freed, or lapsed).
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], 'converted', 1)
return 1
