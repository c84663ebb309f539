-- Removes this process's consumer from the group when it holds nothing, so restarts do not
-- pile up consumers; one still holding messages stays, or its pending entries would be dropped
-- and never redelivered.
-- KEYS[1] stream: the partition's.
-- ARGV[1] group, ARGV[2] consumer.
-- Returns the number of pending entries XGROUP DELCONSUMER dropped (always 0), or 0 when the
-- consumer stays or is unknown.
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(consumers) ~= 'table' or consumers.err then return 0 end
for _, info in ipairs(consumers) do
  local fields = fieldsOf(info)
  if fields.name == ARGV[2] and fields.pending == 0 then
    return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  end
end
return 0
