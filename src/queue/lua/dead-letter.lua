-- Moves a leased message to the partition's dead letters, stamped with the server's time.
-- KEYS[1] stream, KEYS[2] leases, KEYS[3] dead: the partition's.
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] consumer, ARGV[4] deliveries (the lease),
-- ARGV[5] reason.
-- Returns 1, or 0 when the lease was lost or the entry is gone.
if not holds(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
local f = entryOf(KEYS[1], ARGV[2])
removeLive(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if not f then return 0 end
redis.call('XADD', KEYS[3], '*', 'key', f.key, 'payload', f.payload, 'attempt', f.attempt,
  'published_at', f.published_at, 'reason', ARGV[5], 'dead_lettered_at', int(nowMs()))
return 1
