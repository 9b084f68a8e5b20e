--[[
evacuate-7.lua: empty a sale's keys at its old stock home, only if that home holds no stock.

Moving a sale's stock home (POST /admin/sales/:id/move-stock-home) must first prove the old home
sells nothing more: no unit left and no accepted order still waiting for Kafka. The check and the
delete are one script, so a reserve or a release cannot land between them.

KEYS[1] meta     hash (see reserve-6.lua)
KEYS[2] stock    string: units remaining
KEYS[3] buyers   hash
KEYS[4] handoff  hash: orders not yet acknowledged by Kafka
KEYS[5] due      zset
KEYS[6] idem     hash
KEYS[7] released set

Returns:
  {1}                     emptied (or there was nothing)
  {-1, remaining, handoff} refused: the home still holds stock or orders on their way to Kafka
]]
local remaining = tonumber(redis.call('GET', KEYS[2]) or '0')
local handoff = redis.call('HLEN', KEYS[4])
if remaining > 0 or handoff > 0 then
  return {-1, remaining, handoff}
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7])
return {1}
