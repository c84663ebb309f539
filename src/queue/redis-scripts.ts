import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Topic } from './port.js';

/**
 * The Redis queue's key layout and Lua scripts, with typed calls that pass each script its keys
 * and arguments in order. Each script runs atomically on the server, so a lease check and the
 * move it guards (ack, retry, dead letter) can never interleave with another client's receive.
 * Every script but the hand-off touches the keys of one partition only, which share the
 * partition's hash tag; the hand-off touches two (of two topics), so it needs the standalone
 * server the blocking read needs anyway.
 *
 * A stream entry holds `key`, `payload` (JSON text), `attempt` and `published_at`. A delayed
 * message is a sorted-set member (score: due time) that is the JSON array
 * `[nonce, key, payload, attempt, published_at]`; the nonce keeps equal messages apart.
 * Lease deadlines live in a sorted set (member: entry id, score: lease end). Due times and lease
 * ends use the server's clock (`TIME`), so processes on hosts with skewed clocks agree on them.
 */

/** Delayed messages moved per partition and receive: bounds one script's run time. */
const MOVE_BATCH = 100;
/** Dead letters a purge deletes per script run, so that it never blocks Redis for long. */
const PURGE_BATCH = 500;

const PRELUDE = `
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
`;

/** ARGV: maxLength, delayMs, nonce, key, payload, publishedAt. */
const PUBLISH = `
local full = refuseWhenFull(KEYS[1], KEYS[2], ARGV[1])
if full then return full end
local delay = tonumber(ARGV[2])
if delay > 0 then
  redis.call('ZADD', KEYS[2], int(nowMs() + delay), cjson.encode({ARGV[3], ARGV[4], ARGV[5], '0', ARGV[6]}))
else
  append(KEYS[1], ARGV[4], ARGV[5], '0', ARGV[6])
end
return 1
`;

/**
 * ARGV: group, consumer, max, leaseMs, moveBatch.
 * Creates the group when missing (first use, or Redis lost it), moves due delayed messages into
 * the stream, reclaims expired leases, then reads new entries. Returns
 * `{entries, nextDelayedAt, nextLeaseEnd, lastGeneratedId, now}`, each entry `{id, deliveries,
 * fields}`; the rest tells an empty-handed receiver how long and from where to block.
 */
const RECEIVE = `
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
`;

/** ARGV: group, id, consumer, deliveries. */
const ACK = `
if not holds(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
removeLive(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
`;

/**
 * KEYS: the handled message's stream and leases, then the next message's stream and delayed
 * set. ARGV: group, id, consumer, deliveries, maxLength, key, payload, publishedAt. Acks the
 * handled message and appends the next one, or (lease lost, next partition full) neither.
 */
const HAND_OFF = `
if not holds(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
local full = refuseWhenFull(KEYS[3], KEYS[4], ARGV[5])
if full then return full end
append(KEYS[3], ARGV[6], ARGV[7], '0', ARGV[8])
removeLive(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
return 1
`;

/** ARGV: group, id, consumer, deliveries, counted (0 or 1), delayMs, nonce. Without a delay
 * the message goes straight back to the stream's tail. */
const PUT_BACK = `
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
`;

/** ARGV: group, id, consumer, deliveries, reason. */
const DEAD_LETTER = `
if not holds(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]) then return 0 end
local f = entryOf(KEYS[1], ARGV[2])
removeLive(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if not f then return 0 end
redis.call('XADD', KEYS[3], '*', 'key', f.key, 'payload', f.payload, 'attempt', f.attempt,
  'published_at', f.published_at, 'reason', ARGV[5], 'dead_lettered_at', int(nowMs()))
return 1
`;

/** ARGV: dead-letter entry id, publishedAt. */
const REPLAY = `
local f = entryOf(KEYS[2], ARGV[1])
if not f then return 0 end
append(KEYS[1], f.key, f.payload, '0', ARGV[2])
redis.call('XDEL', KEYS[2], ARGV[1])
return 1
`;

/**
 * ARGV: before, batch. Deletes the oldest dead letters while they were dead-lettered before
 * `before`: they are appended in server-time order, so the first younger one ends the scan.
 * Returns `{deleted, done}`; the caller repeats until done.
 */
const PURGE = `
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[2]))
local deleted = 0
for _, entry in ipairs(entries) do
  if tonumber(fieldsOf(entry[2]).dead_lettered_at) >= tonumber(ARGV[1]) then return {deleted, 1} end
  redis.call('XDEL', KEYS[1], entry[1])
  deleted = deleted + 1
end
return {deleted, #entries < tonumber(ARGV[2]) and 1 or 0}
`;

/**
 * ARGV: group, consumer. Removes this process's consumer from the group when it holds nothing,
 * so restarts do not pile up consumers; one still holding messages stays, or its pending
 * entries would be dropped and never redelivered.
 */
const FORGET_CONSUMER = `
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(consumers) ~= 'table' or consumers.err then return 0 end
for _, info in ipairs(consumers) do
  local fields = fieldsOf(info)
  if fields.name == ARGV[2] and fields.pending == 0 then
    return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  end
end
return 0
`;

/** One consumer group per partition stream; every process joins it under its own name. */
const GROUP = 'workers';

export interface PartitionKeys {
  /** Live messages: ready, and leased (pending in the group). */
  stream: string;
  /** Messages waiting for their due time. */
  delayed: string;
  /** Lease ends of the pending entries. */
  leases: string;
  dead: string;
}

/** `{prefix:topic:N}` is the hash tag: a partition's keys share one Cluster slot. */
export function partitionKeys(prefix: string, topic: Topic, partition: number): PartitionKeys {
  const tag = `{${prefix}:${topic}:${partition}}`;
  const key = (name: string) => `${tag}:${name}`;
  return {
    stream: key('stream'),
    delayed: key('delayed'),
    leases: key('leases'),
    dead: key('dead'),
  };
}

export interface NewMessage {
  key: string;
  /** JSON text. */
  payload: string;
  publishedAt: number;
}

/** What a lease token stands for: the entry pending for `consumer` after `deliveries`. */
export interface Lock {
  entryId: string;
  consumer: string;
  deliveries: string;
}

export interface ReadEntry {
  entryId: string;
  deliveries: string;
  fields: Map<string, string>;
}

/** One partition's part of a receive, and for an empty one when and from where to wait. */
export interface PartitionRead {
  entries: ReadEntry[];
  /** Last id the stream generated: a blocking read waits for entries after it. */
  lastId: string;
  /** Until the next delayed message is due or lease ends, by the server's clock. */
  wakeInMs: number;
}

/** Each script with the partition keys it touches, in the order its KEYS holds them. */
const SCRIPTS = {
  chargegatePublish: { keys: ['stream', 'delayed'], body: PUBLISH },
  chargegateReceive: { keys: ['stream', 'delayed', 'leases'], body: RECEIVE },
  chargegateAck: { keys: ['stream', 'leases'], body: ACK },
  chargegatePutBack: { keys: ['stream', 'delayed', 'leases'], body: PUT_BACK },
  chargegateDeadLetter: { keys: ['stream', 'leases', 'dead'], body: DEAD_LETTER },
  chargegateReplay: { keys: ['stream', 'dead'], body: REPLAY },
  chargegatePurge: { keys: ['dead'], body: PURGE },
  chargegateForgetConsumer: { keys: ['stream'], body: FORGET_CONSUMER },
} as const satisfies Record<string, { keys: readonly (keyof PartitionKeys)[]; body: string }>;

/** Its keys come from two partitions, the message's then the next one's (in this order in its
 * KEYS), so it is defined apart from `SCRIPTS`. */
const HAND_OFF_NAME = 'chargegateHandOff';
const HAND_OFF_KEYS = {
  from: ['stream', 'leases'],
  to: ['stream', 'delayed'],
} as const satisfies Record<'from' | 'to', readonly (keyof PartitionKeys)[]>;

type ScriptName = keyof typeof SCRIPTS;
type ScriptCall = (...keysThenArgs: (string | number)[]) => Promise<unknown>;
type ScriptedRedis = Redis & Record<ScriptName, ScriptCall>;

/** Reply shapes are checked rather than cast: a script change that breaks them fails loudly. */
export function asList(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new TypeError('Unexpected reply from a Redis queue script');
  return reply as unknown[];
}

export function asText(reply: unknown): string {
  if (typeof reply === 'string') return reply;
  if (typeof reply === 'number') return String(reply);
  throw new TypeError('Unexpected reply from a Redis queue script');
}

/** A stream entry's flat `[field, value, …]` list as a map. */
export function fieldsOf(flat: unknown): Map<string, string> {
  const items = asList(flat).map(asText);
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < items.length; i += 2) fields.set(items[i] ?? '', items[i + 1] ?? '');
  return fields;
}

function parseRead(reply: unknown): PartitionRead {
  const [entries, nextDue, nextLeaseEnd, lastId, now] = asList(reply);
  const wakeAt = [nextDue, nextLeaseEnd].map(asText).filter((at) => at !== '');
  const entryOf = (entry: unknown): ReadEntry => {
    const [entryId, deliveries, fields] = asList(entry);
    return { entryId: asText(entryId), deliveries: asText(deliveries), fields: fieldsOf(fields) };
  };
  return {
    entries: asList(entries).map(entryOf),
    lastId: asText(lastId),
    wakeInMs: Math.min(Infinity, ...wakeAt.map((at) => Number(at) - Number(asText(now)))),
  };
}

/** The scripts, loaded on `redis` (EVALSHA, falling back to EVAL after a server restart). */
export function createScripts(redis: Redis) {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    redis.defineCommand(name, { numberOfKeys: script.keys.length, lua: PRELUDE + script.body });
  }
  redis.defineCommand(HAND_OFF_NAME, {
    numberOfKeys: HAND_OFF_KEYS.from.length + HAND_OFF_KEYS.to.length,
    lua: PRELUDE + HAND_OFF,
  });
  // defineCommand adds the methods at run time; this is the one place their types are stated.
  const run = redis as ScriptedRedis & Record<typeof HAND_OFF_NAME, ScriptCall>;
  const call = (name: ScriptName, k: PartitionKeys, ...args: (string | number)[]) =>
    run[name](...SCRIPTS[name].keys.map((key) => k[key]), ...args);
  const done = (reply: unknown) => reply === 1;
  const lock = (l: Lock) => [GROUP, l.entryId, l.consumer, l.deliveries];
  return {
    publish: async (k: PartitionKeys, message: NewMessage, maxLength: number, delayMs: number) => {
      const { key, payload, publishedAt } = message;
      await call(
        'chargegatePublish',
        k,
        maxLength,
        delayMs,
        randomUUID(),
        key,
        payload,
        publishedAt,
      );
    },
    receive: async (k: PartitionKeys, consumer: string, max: number, leaseMs: number) =>
      parseRead(await call('chargegateReceive', k, GROUP, consumer, max, leaseMs, MOVE_BATCH)),
    ack: async (k: PartitionKeys, l: Lock) => done(await call('chargegateAck', k, ...lock(l))),
    handOff: async (
      from: PartitionKeys,
      l: Lock,
      to: PartitionKeys,
      next: NewMessage,
      maxLength: number,
    ) =>
      done(
        await run[HAND_OFF_NAME](
          ...HAND_OFF_KEYS.from.map((key) => from[key]),
          ...HAND_OFF_KEYS.to.map((key) => to[key]),
          ...lock(l),
          maxLength,
          next.key,
          next.payload,
          next.publishedAt,
        ),
      ),
    putBack: async (k: PartitionKeys, l: Lock, counted: 0 | 1, delayMs: number) =>
      done(await call('chargegatePutBack', k, ...lock(l), counted, delayMs, randomUUID())),
    deadLetter: async (k: PartitionKeys, l: Lock, reason: string) =>
      done(await call('chargegateDeadLetter', k, ...lock(l), reason)),
    replay: async (k: PartitionKeys, entryId: string, publishedAt: number) =>
      done(await call('chargegateReplay', k, entryId, publishedAt)),
    /** Deletes dead letters older than `before`, one batch per call; how many, and whether done. */
    purge: async (k: PartitionKeys, before: number) => {
      const [deleted, finished] = asList(await call('chargegatePurge', k, before, PURGE_BATCH));
      return { deleted: Number(deleted), done: Number(finished) === 1 };
    },
    forgetConsumer: async (k: PartitionKeys, consumer: string) => {
      await call('chargegateForgetConsumer', k, GROUP, consumer);
    },
  };
}

export type QueueScripts = ReturnType<typeof createScripts>;
