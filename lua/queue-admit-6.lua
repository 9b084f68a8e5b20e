--[[
queue-admit-6.lua: one admission tick of a sale's waiting room. Every API runs it for every
sale with a waiting room, a few times a second; they share its state, so the number of APIs
does not change the rate.

The rate: admissions are paid from a credit that grows by inlet x (Redis TIME - last tick) and
is capped at one tick's worth (ARGV[5]), so however many admitters call and however their
calls interleave, admissions over any interval T stay within inlet x T + one tick's worth.

Stock-aware: it admits no more users than the units not already promised to admitted users who
still hold a place (remaining - admitted), so every admitted user can buy, and a unit that comes
back (an unpaid order closed) goes to the head of the queue at the next tick: nobody without a
pass can buy it meanwhile. A place whose pass expired is dropped (converted if the user bought).

KEYS[1] waiting     zset: userId -> place score (see queue-join-5.lua)
KEYS[2] admitted    zset: userId -> pass expiry (ms), users holding an admission right now
KEYS[3] admissions  hash: userId -> pass expiry (ms) of every admission
KEYS[4] meta        hash: inlet, credit, lastTick, rate, admittedTotal, converted, lapsed
KEYS[5] stock       string: units remaining (see reserve-6.lua); absent: nothing to sell yet.
                    A split sale (stockBuckets > 1): the room's copy of the total remaining
                    ({sale:ID}:q:stock), which this script writes from ARGV[8]
KEYS[6] buyers      hash: userId -> live slots (see reserve-6.lua); a split sale: the room's
                    buyers ({sale:ID}:q:bought, userId -> 1, see queue-convert-3.lua)

ARGV[1] startsAt (ms)
ARGV[2] endsAt (ms)
ARGV[3] inlet per second, used until one is set in meta (PATCH /admin/sales/:id sets it there)
ARGV[4] admission window (ms): how long an admitted user's pass lasts
ARGV[5] the credit cap, in ms of inlet (one tick)
ARGV[6] the most users admitted, and lapsed places dropped, by one call
ARGV[7] the measured rate's time constant (ms)
ARGV[8] a split sale only ("" or absent otherwise): the total remaining the caller read across
        the buckets, as the sum over buckets of total - accepted + released (each bucket's
        figures read at one instant; units moving between buckets cancel out)
ARGV[9] a split sale: the meta's `converted` counter, read before ARGV[8]
ARGV[10] a split sale: the number HINCRBY meta stockReads 1 returned before ARGV[8] was read;
        KEYS[5] (what status and join read) is written only by a read newer than the last
        written one, so two admitters' reads landing out of order never put an old total back

A split sale's stock lives in slots this script cannot read; the caller reads it first. Between
that read and this script, purchases happen: each spends a unit the read still counted, and a
purchase whose place was freed (queue-convert-3.lua) is no longer in `admitted` either, so it
would be counted as a free unit. Those are exactly the conversions since ARGV[9]; they are
subtracted (a purchase counted twice only makes the tick admit less). Units coming back after
the read wait for the next tick. So the admitted users holding a place never outnumber the
units remaining, as for an unsplit sale (the exceptions, the same for both: a purchase racing
its own pass's expiry, and reconcile's rebuild, during which the sale is blocked).

Returns {admitted, converted, lapsed, waiting, holding, nowMs, rateMilli, userId...}:
  admitted   users admitted by this call, whose ids follow in admission order
  converted  places dropped because their user bought (counted here or by queue-convert-3.lua)
  lapsed     places dropped because the pass expired unused
  waiting    users still waiting; holding: admitted users holding a place
  rateMilli  measured admissions per second x 1000 (exponentially decaying)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local startsAt = tonumber(ARGV[1])
if now < startsAt then
  return {0, 0, 0, redis.call('ZCARD', KEYS[1]), 0, now, 0}
end
local maxPerCall = tonumber(ARGV[6])
local split = ARGV[8] ~= nil and ARGV[8] ~= ''
local splitTotal = split and tonumber(ARGV[8]) or 0

local m = redis.call('HMGET', KEYS[4], 'inlet', 'credit', 'lastTick', 'rate')
local inlet = tonumber(m[1]) or tonumber(ARGV[3])
local credit = tonumber(m[2]) or 0
local last = tonumber(m[3]) or startsAt
local rate = tonumber(m[4]) or 0
local dt = math.max(0, now - last)
local cap = math.max(1, inlet * tonumber(ARGV[5]) / 1000)
credit = math.min(cap, credit + dt * inlet / 1000)

-- Reads before writes: the places to drop, then how many to admit.
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, maxPerCall)
local converted, lapsed = 0, 0
for _, u in ipairs(expired) do
  if redis.call('HEXISTS', KEYS[6], u) == 1 then converted = converted + 1 else lapsed = lapsed + 1 end
end
local n = 0
if now < tonumber(ARGV[2]) then
  local remaining
  if split then
    local sinceRead = (tonumber(redis.call('HGET', KEYS[4], 'converted')) or 0) + converted - tonumber(ARGV[9])
    remaining = splitTotal - math.max(0, sinceRead)
  else
    remaining = tonumber(redis.call('GET', KEYS[5]) or '0')
  end
  local available = remaining - (redis.call('ZCARD', KEYS[2]) - #expired)
  n = math.min(math.floor(credit), available, maxPerCall)
end

-- From here on, only writes.
if split then
  local seq = tonumber(ARGV[10]) or 0
  if seq > (tonumber(redis.call('HGET', KEYS[4], 'stockSeq')) or 0) then
    redis.call('SET', KEYS[5], math.max(0, splitTotal))
    redis.call('HSET', KEYS[4], 'stockSeq', seq)
  end
end
if #expired > 0 then redis.call('ZREM', KEYS[2], unpack(expired)) end
local admitted = {}
if n > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], n)
  local exp = now + tonumber(ARGV[4])
  for i = 1, #popped, 2 do
    local u = popped[i]
    admitted[#admitted + 1] = u
    redis.call('ZADD', KEYS[2], exp, u)
    redis.call('HSET', KEYS[3], u, exp)
  end
end
local count = #admitted
credit = credit - count
-- A decaying counter: each admission adds 1/tau, and the sum decays by e^(-dt/tau); its value is
-- the admissions per second of roughly the last tau.
local tau = tonumber(ARGV[7])
rate = rate * math.exp(-dt / tau) + count * 1000 / tau
redis.call('HSET', KEYS[4], 'credit', tostring(credit), 'lastTick', now, 'rate', tostring(rate))
if count > 0 then redis.call('HINCRBY', KEYS[4], 'admittedTotal', count) end
if converted > 0 then redis.call('HINCRBY', KEYS[4], 'converted', converted) end
if lapsed > 0 then redis.call('HINCRBY', KEYS[4], 'lapsed', lapsed) end

local out = {count, converted, lapsed, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), now, math.floor(rate * 1000)}
for _, u in ipairs(admitted) do out[#out + 1] = u end
return out
