-- Publishes a dead letter again, as a first attempt, and deletes it.
-- KEYS[1] stream, KEYS[2] dead: the partition's.
-- ARGV[1] dead-letter entry id, ARGV[2] publishedAt.
-- Returns 1, or 0 when no such dead letter exists.
local f = entryOf(KEYS[2], ARGV[1])
if not f then return 0 end
append(KEYS[1], f.key, f.payload, '0', ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[1])
return 1
