--[[
queue-convert-3.lua: an admitted user bought: free their place at once (rather than when the
pass expires), so the next tick can admit someone for the next unit. Idempotent.

KEYS[1] admitted  zset: userId -> pass expiry (ms), users holding an admission
KEYS[2] meta      hash: converted (counter)
KEYS[3] bought    hash: userId -> 1, the room's own record of its buyers ({sale:ID}:q:bought);
                  written only for a split sale (stockBuckets > 1), whose buyers hash lives in
                  each buyer's home bucket, out of the room's slot. The sale store drops the
                  entry when the buyer's last live order closes (as reserve-6.lua's buyers hash),
                  and reconcile's rebuild recomputes it from MySQL's live orders
ARGV[1] userId
ARGV[2] "1": record the buyer in KEYS[3] (a split sale); anything else: leave KEYS[3] alone

Returns 1 when the place was freed here, 0 when it was not held (already freed, or lapsed).
]]
if ARGV[2] == '1' then redis.call('HSET', KEYS[3], ARGV[1], 1) end
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], 'converted', 1)
return 1
