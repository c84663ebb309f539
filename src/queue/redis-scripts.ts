import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Topic } from './port.js';

/**
 * The Redis queue's key layout and Lua scripts (`lua/*.lua`, each headed by its KEYS, ARGV and
 * reply), with typed calls that pass each script its keys and arguments in order. Each script
 * runs atomically on the server, so a lease check and the move it guards (ack, retry, dead
 * letter) can never interleave with another client's receive. Every script but the hand-off
 * touches the keys of one partition only, which share the partition's hash tag; the hand-off
 * touches two (of two topics), so it needs the standalone server the blocking read needs anyway.
 * The layout of entries, delayed messages and leases is described in `lua/prelude.lua`.
 */

/** Delayed messages moved per partition and receive: bounds one script's run time. */
const MOVE_BATCH = 100;
/** Dead letters a purge deletes per script run, so that it never blocks Redis for long. */
const PURGE_BATCH = 500;

/** Read once, at module load, from beside this file (in src/ or dist/). */
const readLua = (name: string) =>
  readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');

/** The helpers every script uses: prepended to each script's text when it is defined. */
const PRELUDE = readLua('prelude');

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
  chargegatePublish: { keys: ['stream', 'delayed'], body: readLua('publish') },
  chargegateReceive: { keys: ['stream', 'delayed', 'leases'], body: readLua('receive') },
  chargegateAck: { keys: ['stream', 'leases'], body: readLua('ack') },
  chargegatePutBack: { keys: ['stream', 'delayed', 'leases'], body: readLua('put-back') },
  chargegateDeadLetter: { keys: ['stream', 'leases', 'dead'], body: readLua('dead-letter') },
  chargegateReplay: { keys: ['stream', 'dead'], body: readLua('replay') },
  chargegatePurge: { keys: ['dead'], body: readLua('purge') },
  chargegateForgetConsumer: { keys: ['stream'], body: readLua('forget-consumer') },
} as const satisfies Record<string, { keys: readonly (keyof PartitionKeys)[]; body: string }>;

/** Its keys come from two partitions, the message's then the next one's (in this order in its
 * KEYS), so it is defined apart from `SCRIPTS`. */
const HAND_OFF_NAME = 'chargegateHandOff';
const HAND_OFF = readLua('hand-off');
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
