-- Publishes one message to a partition, now or after a delay.
-- KEYS[1] stream, KEYS[2] delayed: the partition's.
-- ARGV[1] maxLength, ARGV[2] delayMs, ARGV[3] nonce, ARGV[4] key, ARGV[5] payload,
-- ARGV[6] publishedAt.
-- Returns 1, or the error QUEUE_FULL when the partition holds its maximum.
local full = refuseWhenFull(KEYS[1], KEYS[2], ARGV[1])
if full then return full end
local delay = tonumber(ARGV[2])
if delay > 0 then
  redis.call('ZADD', KEYS[2], int(nowMs() + delay), cjson.encode({ARGV[3], ARGV[4], ARGV[5], '0', ARGV[6]}))
else
  append(KEYS[1], ARGV[4], ARGV[5], '0', ARGV[6])
end
return 1
