-- Helpers shared by every queue script. `redis-scripts.ts` prepends this file to each script
-- when it loads them, so they define no KEYS or ARGV of their own.
--
-- A stream entry holds `key`, `payload` (JSON text), `attempt` and `published_at`. A delayed
-- message is a sorted-set member (score: due time) that is the JSON array
-- `[nonce, key, payload, attempt, published_at]`; the nonce keeps equal messages apart. Lease
-- deadlines live in a sorted set (member: entry id, score: lease end). Due times and lease ends
-- use the server's clock (`TIME`), so processes on hosts with skewed clocks agree on them.

local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Numbers are formatted by hand: Lua 5.1 would print large ones in exponent form.
local function int(n) return string.format('%d', n) end
local function fieldsOf(flat)
  local fields = {}
  for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  return fields
end
local function entryOf(stream, id)
  local found = redis.call('XRANGE', stream, id, id)
  if #found == 0 then return nil end
  return fieldsOf(found[1][2])
end
local function append(stream, key, payload, attempt, publishedAt)
  return redis.call('XADD', stream, '*', 'key', key, 'payload', payload,
    'attempt', attempt, 'published_at', publishedAt)
end
-- The lease (consumer, delivery count) still holds the entry: XCLAIM by a reclaiming receive
-- changes the owner or bumps the count, and a lost group (NOGROUP) loses every lease.
local function holds(stream, group, id, consumer, deliveries)
  local pending = redis.pcall('XPENDING', stream, group, id, id, 1)
  if type(pending) ~= 'table' or pending.err or #pending == 0 then return false end
  return pending[1][2] == consumer and tostring(pending[1][4]) == deliveries
end
-- A partition at its maximum refuses a new message (the adapter maps this to BACKLOG_FULL).
local function refuseWhenFull(stream, delayed, maxLength)
  if redis.call('XLEN', stream) + redis.call('ZCARD', delayed) >= tonumber(maxLength) then
    return redis.error_reply('QUEUE_FULL the partition holds its maximum of ' .. maxLength .. ' messages')
  end
end
-- XDEL on ack keeps only live messages in the stream: its length is the backlog.
local function removeLive(stream, leases, group, id)
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  redis.call('ZREM', leases, id)
end
