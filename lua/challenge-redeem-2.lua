--[[
challenge-redeem-2.lua: spend a solved proof-of-work challenge, once. The caller has already
checked the challenge's signature, owner, sale, expiry and solution; this only makes sure the
same challenge never buys two passes.

KEYS[1] the challenge's used-marker (under the sale's hash tag), kept until it would expire
KEYS[2] meta   hash: passesIssued (counter)
ARGV[1] how long to keep the marker (ms): the challenge's remaining life

Returns 1 when redeemed now, 0 when it was redeemed before.
]]
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[2], 'passesIssued', 1)
return 1
