--[[
preload-2.lua: load a sale's settings and stock into Redis before it opens; idempotent.

The stock is set only when the sale is not loaded yet: a repeated preload never resets a
stock that purchases have already decremented (that would oversell). Settings (times, price,
limits) are refreshed on every call. Once the sale has started, preload refuses unless forced.

KEYS[1] meta   hash (see reserve-6.lua)
KEYS[2] stock  string: units remaining
ARGV[1] total stock (of this bucket)
ARGV[2] startsAt ms
ARGV[3] endsAt ms
ARGV[4] perUserLimit
ARGV[5] priceCents
ARGV[6] paymentTimeoutSeconds
ARGV[7] "1" to force after the start
ARGV[8] how many stock buckets the sale has (this hash is one of them; "1" for an unsplit sale)

Returns:
  {1, remaining}  loaded now (stock set to the total)
  {2, remaining}  already loaded; settings refreshed, stock left as it is
  {-1, remaining} refused: the sale has started and force was not given (remaining -1 if not loaded)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local loaded = redis.call('EXISTS', KEYS[1]) == 1
local startsAt = tonumber(redis.call('HGET', KEYS[1], 'startsAt') or ARGV[2])
if now >= startsAt and ARGV[7] ~= '1' then
  return {-1, tonumber(redis.call('GET', KEYS[2]) or '-1')}
end

redis.call('HSET', KEYS[1], 'startsAt', ARGV[2], 'endsAt', ARGV[3], 'perUserLimit', ARGV[4],
  'priceCents', ARGV[5], 'paymentTimeoutSeconds', ARGV[6])
if loaded then
  return {2, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
redis.call('HSET', KEYS[1], 'total', ARGV[1], 'accepted', 0, 'buckets', ARGV[8], 'movedIn', 0, 'movedOut', 0)
redis.call('SET', KEYS[2], ARGV[1])
return {1, tonumber(ARGV[1])}
