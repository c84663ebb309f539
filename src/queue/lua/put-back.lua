-- Returns a leased message for another attempt: after a delay, or without one straight to the
-- stream's tail.
-- KEYS[1] stream, KEYS[2] delayed, KEYS[3] leases: the partition's.
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] deliveries (the lease),
-- ARGV[5] counted (1: the attempt counts, 0: it does not), ARGV[6] delayMs, ARGV[7] nonce.
-- Returns 1, or 0 when the lease was lost or the entry is gone.
if not holds(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
local f = entryOf(KEYS[1], ARGV[2])
removeLive(KEYS[1], KEYS[3], ARGV[1], ARGV[2])
if not f then return 0 end
local attempt = int(tonumber(f.attempt) + tonumber(ARGV[5]))
local delay = tonumber(ARGV[6])
if delay > 0 then
  redis.call('ZADD', KEYS[2], int(nowMs() + delay), cjson.encode({ARGV[7], f.key, f.payload, attempt, f.published_at}))
else
  append(KEYS[1], f.key, f.payload, attempt, f.published_at)
end
return 1
