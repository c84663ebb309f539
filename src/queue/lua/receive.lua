-- Leases up to `max` messages of a partition. Creates the group when missing (first use, or
-- Redis lost it), moves due delayed messages into the stream, reclaims expired leases, then
-- reads new entries.
-- KEYS[1] stream, KEYS[2] delayed, KEYS[3] leases: the partition's.
-- ARGV[1] group, ARGV[2] consumer, ARGV[3] max, ARGV[4] leaseMs, ARGV[5] moveBatch (delayed
-- messages moved per run, which bounds its run time).
-- Returns {entries, nextDelayedAt, nextLeaseEnd, lastGeneratedId, now}, each entry
-- {id, deliveries, fields}; the rest tells an empty-handed receiver how long and from where to
-- block (an empty string where there is nothing to wait for).
local stream, delayed, leases = KEYS[1], KEYS[2], KEYS[3]
local group, consumer, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = nowMs()
local leaseEnd = int(now + tonumber(ARGV[4]))
local hasGroup = false
if redis.call('EXISTS', stream) == 1 then
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    if info[2] == group then hasGroup = true end
  end
end
-- From id 0: messages published while the group was missing are still delivered.
if not hasGroup then redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM') end
for _, member in ipairs(redis.call('ZRANGE', delayed, '-inf', int(now), 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[5]))) do
  local m = cjson.decode(member)
  append(stream, m[2], m[3], m[4], m[5])
  redis.call('ZREM', delayed, member)
end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', leases, '-inf', int(now), 'BYSCORE', 'LIMIT', 0, max)) do
  local claimed = redis.call('XCLAIM', stream, group, consumer, 0, id)
  local entry = claimed[1]
  if type(entry) == 'table' then
    local pending = redis.call('XPENDING', stream, group, id, id, 1)
    redis.call('ZADD', leases, leaseEnd, id)
    out[#out + 1] = {id, tostring(pending[1][4]), entry[2]}
  else
    -- Acked elsewhere or deleted: XCLAIM has dropped it from the pending list.
    redis.call('ZREM', leases, id)
  end
end
if #out < max then
  local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', max - #out, 'STREAMS', stream, '>')
  if read then
    for _, entry in ipairs(read[1][2]) do
      redis.call('ZADD', leases, leaseEnd, entry[1])
      out[#out + 1] = {entry[1], '1', entry[2]}
    end
  end
end
local function firstScore(zset)
  return redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')[2] or ''
end
local lastId = ''
if #out == 0 then
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then lastId = info[i + 1] end
  end
end
return {out, firstScore(delayed), firstScore(leases), lastId, int(now)}
