-- Deletes the oldest dead letters while they were dead-lettered before `before`: they are
-- appended in server-time order, so the first younger one ends the scan.
-- KEYS[1] dead: the partition's.
-- ARGV[1] before (epoch ms, server time), ARGV[2] batch (most entries read per run, so that
-- one run never blocks Redis for long).
-- Returns {deleted, done}, done 1 when nothing older is left; the caller repeats until done.
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[2]))
local deleted = 0
for _, entry in ipairs(entries) do
  if tonumber(fieldsOf(entry[2]).dead_lettered_at) >= tonumber(ARGV[1]) then return {deleted, 1} end
  redis.call('XDEL', KEYS[1], entry[1])
  deleted = deleted + 1
end
return {deleted, #entries < tonumber(ARGV[2]) and 1 or 0}
