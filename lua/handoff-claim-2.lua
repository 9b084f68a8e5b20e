--[[
handoff-claim-2.lua: claim order messages whose Kafka handoff is overdue, for republishing.

An entry is overdue when its due time has passed: the API that accepted it crashed, its send
failed, or Kafka was away. Claiming pushes the due time out by a lease, so several relays (one
per API instance) do not publish the same entry at once; if the claimer dies, the lease runs
out and another relay claims it. An entry whose message is gone (already acknowledged) is
dropped from the due set.

KEYS[1] handoff  hash: orderId -> order message JSON
KEYS[2] due      zset: orderId -> ms after which the entry may be (re)published
ARGV[1] how many entries to claim at most
ARGV[2] lease in ms

Returns: a flat array {orderId1, message1, orderId2, message2, ...} (empty when nothing is due)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  local message = redis.call('HGET', KEYS[1], id)
  if message then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), id)
    out[#out + 1] = id
    out[#out + 1] = message
  else
    redis.call('ZREM', KEYS[2], id)
  end
end
return out
