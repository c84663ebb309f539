-- GCRA: may one more call go now? The theoretical arrival time is kept in one key that every
-- process shares, and read against Redis's own clock, so skew between hosts does not matter.
-- KEYS[1] the limiter's key (its theoretical arrival time, epoch ms as text).
-- ARGV[1] interval (ms between calls at the steady rate), ARGV[2] tolerance (ms of burst).
-- Returns 0 when the call may go (and counts it), otherwise the milliseconds to wait.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowed_at = tat - tolerance
if now < allowed_at then return math.ceil(allowed_at - now) end
local next = tat + interval
redis.call('SET', KEYS[1], tostring(next), 'PX', math.ceil(next - now + tolerance) + 1000)
return 0
