import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { AppError } from '../lib/errors.js';
import { delay } from '../lib/time.js';
import { TOPICS } from './port.js';
import type {
  DeadLetter,
  DeadLetterPage,
  Delivery,
  NextMessage,
  Queue,
  ReceiveOptions,
  Topic,
} from './port.js';
import { asList, asText, createScripts, fieldsOf, partitionKeys } from './redis-scripts.js';
import { parsePayload, payloadText, readPayload, toDelivery } from './payload.js';
import type { Lock, NewMessage, PartitionKeys, QueueScripts } from './redis-scripts.js';

/**
 * The distributed-mode queue: Redis Streams with one consumer group (`workers`) per partition
 * stream. Each topic has `partitions` partitions; the keys of partition N share the hash tag
 * `{prefix:topic:N}`: `…:stream` (live messages), `…:delayed` (sorted set by due time),
 * `…:leases` (sorted set by lease end) and `…:dead` (dead letters). See `redis-scripts.ts`.
 *
 * - **Durability.** `publish` resolves once Redis acknowledged the write. That survives a crash
 *   of the publisher, but a crash of Redis only with AOF on (`appendonly yes`, `appendfsync
 *   everysec` loses at most about a second, `always` nothing); without persistence a Redis
 *   restart loses the queue, and receives recreate the empty groups and go on. Replication is
 *   asynchronous: a failover to a replica can lose the last acknowledged writes.
 * - **Leases.** A delivery is the stream entry pending for this process's consumer; its lease
 *   token is (delivery count, consumer). A lease's end is kept per entry, so each receiver's own
 *   `leaseMs` counts, not the reclaimer's; a receive reclaims expired ones with XCLAIM, which
 *   bumps the delivery count, so the stale holder's ack no longer matches and changes nothing.
 * - **Bounded length.** Acked messages are deleted, so the stream holds only live messages and
 *   `depth` is XLEN + ZCARD. Trimming (MAXLEN) would then drop unacked messages silently;
 *   instead a partition at `maxLength` refuses publishes (`BACKLOG_FULL`). Keep it far above
 *   MAX_BACKLOG, which turns requests away long before.
 * - **Partitions.** A message's partition is a stable hash of its partition key (Chargegate
 *   passes the station id; default: the message key). Receives go round-robin over the
 *   partitions. Lowering `partitions` strands the messages of the dropped partitions.
 * - **Redis.** A standalone server (or primary); the blocking read spans every partition of a
 *   topic, which Cluster would refuse across slots. Use `maxmemory-policy noeviction`.
 */
export interface RedisQueueOptions {
  url: string;
  /** Prefix of every key, so that several deployments (or tests) can share a server. */
  prefix?: string;
  /** Streams per topic (default 1). Raise it freely; lowering it strands messages. */
  partitions?: number;
  /** Most messages (ready, leased and delayed) one partition holds before publishes fail. */
  maxLength?: number;
  /** This process's consumer name in the groups; must be unique among live processes. */
  consumerName?: string;
  /** A command not answered within this fails (the blocking read: past its block time). */
  commandTimeoutMs?: number;
}

export interface RedisQueue extends Queue {
  readonly consumerName: string;
}

const DEFAULT_PREFIX = 'chargegate';
/** A partition's cap when none is given, and the least `redisQueueCap` (`adapters.ts`) gives. */
export const DEFAULT_MAX_LENGTH = 1_000_000;
/** A wait is cut at this, so a due time or lease end set by another process after we looked
 * is noticed this late at worst. Each wake costs one script call per partition. */
const MAX_BLOCK_MS = 500;
/** Concurrent waiting receives with their own connection; further ones poll. */
const MAX_BLOCKING_CONNECTIONS = 8;
const FALLBACK_POLL_MS = 50;
/** Rides through a failover of a few hundred ms, yet fails fast enough for a 503. */
const MAX_RETRIES_PER_REQUEST = 3;
const CLOSE_TIMEOUT_MS = 1_000;
/** Without a configured timeout a command still fails after this rather than hang. */
const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
/** Idle time before TCP keepalive probes start, so a dead peer is found without traffic. */
const KEEP_ALIVE_DELAY_MS = 10_000;

/** Ids handed out (deliveries and dead letters) are `<stream entry id>-<partition>`. */
type Ref = { entryId: string; partition: number };
type Entry = Ref & { fields: Map<string, string> };
const REF = /^(\d{1,19}-\d{1,19})-(\d{1,6})$/;
/** A lease token is `<delivery count>:<consumer>`, as the group's pending list records it. */
const LEASE = /^(\d{1,19}):(.+)$/s;

function parseRef(id: string, partitions: number): Ref | null {
  const match = REF.exec(id);
  const partition = Number(match?.[2]);
  return match?.[1] !== undefined && partition < partitions
    ? { entryId: match[1], partition }
    : null;
}

/** The id `parseRef` reads: `<entry id>-<partition>`. */
function refId(ref: Ref): string {
  return `${ref.entryId}-${ref.partition}`;
}

/** A dead-letter page's cursor or bound as given, `null` when absent; a malformed one throws. */
function pageRef(id: string | undefined, partitions: number, what: string): Ref | null {
  if (id === undefined) return null;
  const ref = parseRef(id, partitions);
  if (ref === null) throw new RangeError(`Invalid dead-letter ${what}: ${id}`);
  return ref;
}

/** FNV-1a: the same partition for a key in every process and release. */
function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % partitions;
}

/** A message as first stored. */
function newMessage(key: string, payload: unknown): NewMessage {
  return { key, payload: payloadText(payload), publishedAt: Date.now() };
}

/** A script's refusal of a write to a full partition, as the API's answer to it. */
function backlogFull(topic: Topic) {
  return (error: unknown): never => {
    if (!(error instanceof Error && error.message.startsWith('QUEUE_FULL'))) throw error;
    throw new AppError('BACKLOG_FULL', `${topic}: ${error.message}`, { cause: error });
  };
}

function wholeMs(value: number): number {
  return Number.isFinite(value) ? Math.max(0, Math.floor(value)) : 0;
}

/** Dead-letter order across partitions: by entry id (time), ties by partition. */
function compareEntries(a: Ref, b: Ref): number {
  const [aMs = 0, aSeq = 0] = a.entryId.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.entryId.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq || a.partition - b.partition;
}

/** A stored message, its payload as text (`toDelivery` and `toDeadLetter` read it). */
function messageOf(fields: Map<string, string>) {
  return {
    key: fields.get('key') ?? '',
    text: fields.get('payload') ?? 'null',
    attempt: Number(fields.get('attempt') ?? 0),
    publishedAt: Number(fields.get('published_at') ?? 0),
  };
}

function toDeadLetter<T>(topic: Topic, entry: Entry): DeadLetter<T> {
  const { text, ...message } = messageOf(entry.fields);
  return {
    id: refId(entry),
    topic,
    ...message,
    payload: readPayload<T>(text) ?? null,
    deadLetteredAt: Number(entry.fields.get('dead_lettered_at') ?? 0),
    reason: entry.fields.get('reason') ?? '',
  };
}

/** Connections for XREAD BLOCK: a blocking command holds up everything queued behind it. */
class BlockingConnections {
  readonly #idle: Redis[] = [];
  readonly #all = new Set<Redis>();
  #closed = false;
  constructor(
    readonly source: Redis,
    /** A blocked read answers within its block time; this much more means a stall. */
    readonly commandTimeoutMs: number,
  ) {}

  /** Null when closed or all in use: the caller then waits without Redis. */
  acquire(): Redis | null {
    if (this.#closed) return null;
    const idle = this.#idle.pop();
    if (idle !== undefined || this.#all.size >= MAX_BLOCKING_CONNECTIONS) return idle ?? null;
    // One blocking command at a time per connection: nothing to pipeline.
    const connection = this.source.duplicate({
      enableAutoPipelining: false,
      commandTimeout: MAX_BLOCK_MS + this.commandTimeoutMs,
    });
    connection.on('error', () => {}); // failures surface as rejected commands
    this.#all.add(connection);
    return connection;
  }

  release(connection: Redis): void {
    if (this.#all.has(connection)) this.#idle.push(connection);
  }

  /** Disconnecting rejects the pending XREADs at once, which ends the waits. */
  closeAll(): void {
    this.#closed = true;
    for (const connection of this.#all) connection.disconnect();
    this.#all.clear();
    this.#idle.length = 0;
  }
}

class RedisQueueAdapter implements RedisQueue {
  readonly consumerName: string;
  readonly #redis: Redis;
  readonly #scripts: QueueScripts;
  readonly #blocking: BlockingConnections;
  readonly #prefix: string;
  readonly #partitions: number[];
  readonly #maxLength: number;
  readonly #nextPartition = new Map<Topic, number>();
  readonly #closing = new AbortController();

  constructor(options: RedisQueueOptions) {
    const random = randomBytes(4).toString('hex');
    this.consumerName = options.consumerName ?? `${hostname()}:${process.pid}:${random}`;
    this.#prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#partitions = [...Array(Math.max(1, Math.floor(options.partitions ?? 1) || 1)).keys()];
    this.#maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH;
    // Auto-pipelining: the commands of one event-loop turn (the publishes of concurrent
    // requests, a batch's acks) travel in one write and one reply read, not one round trip each.
    // A stalled server (paused, or a network path that drops everything) fails commands after
    // the timeout instead of hanging the API and the workers; keepalive finds a dead peer.
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#redis = new Redis(options.url, {
      maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
      enableAutoPipelining: true,
      commandTimeout: commandTimeoutMs,
      keepAlive: KEEP_ALIVE_DELAY_MS,
    });
    this.#redis.on('error', () => {}); // failures surface as rejected commands; ioredis reconnects
    this.#scripts = createScripts(this.#redis);
    this.#blocking = new BlockingConnections(this.#redis, commandTimeoutMs);
  }

  #keys(topic: Topic, partition: number): PartitionKeys {
    return partitionKeys(this.#prefix, topic, partition);
  }

  /** The keys of the partition a message with this partition key goes to. */
  #keysFor(topic: Topic, partitionKey: string): PartitionKeys {
    return this.#keys(topic, partitionOf(partitionKey, this.#partitions.length));
  }

  get #closed(): boolean {
    return this.#closing.signal.aborted;
  }

  async publish(
    topic: Topic,
    key: string,
    payload: unknown,
    options?: { delayMs?: number; partitionKey?: string },
  ) {
    const keys = this.#keysFor(topic, options?.partitionKey ?? key);
    const message = newMessage(key, payload);
    const delayMs = wholeMs(options?.delayMs ?? 0);
    await this.#scripts.publish(keys, message, this.#maxLength, delayMs).catch(backlogFull(topic));
  }

  async receive<T>(topic: Topic, options: ReceiveOptions): Promise<Delivery<T>[]> {
    const max = Math.floor(options.max);
    const deadline = Date.now() + options.waitMs;
    try {
      for (;;) {
        if (this.#closed || !(max >= 1)) return [];
        const round = await this.#receiveRound<T>(topic, max, wholeMs(options.leaseMs));
        const remaining = deadline - Date.now();
        // Written as !(> 0) so that a NaN waitMs means "do not wait" rather than a spin.
        if (round.deliveries.length > 0 || !(remaining > 0)) return round.deliveries;
        await this.#waitForNew(topic, round.lastIds, Math.min(remaining, round.wakeInMs));
      }
    } catch (error) {
      if (this.#closed) return [];
      throw error;
    }
  }

  /** Asks each partition in turn, starting one further each time, until `max` are leased. */
  async #receiveRound<T>(topic: Topic, max: number, leaseMs: number) {
    const partitions = this.#partitions.length;
    const start = this.#nextPartition.get(topic) ?? 0;
    this.#nextPartition.set(topic, (start + 1) % partitions);
    const deliveries: Delivery<T>[] = [];
    const lastIds = this.#partitions.map(() => '$');
    let wakeInMs = MAX_BLOCK_MS;
    for (let i = 0; i < partitions && deliveries.length < max && !this.#closed; i++) {
      const partition = (start + i) % partitions;
      const wanted = max - deliveries.length;
      const keys = this.#keys(topic, partition);
      const read = await this.#scripts.receive(keys, this.consumerName, wanted, leaseMs);
      for (const { entryId, deliveries: times, fields } of read.entries) {
        deliveries.push(
          toDelivery<T>({
            id: refId({ entryId, partition }),
            ...messageOf(fields),
            lease: `${times}:${this.consumerName}`,
          }),
        );
      }
      lastIds[partition] = read.lastId;
      wakeInMs = Math.min(wakeInMs, read.wakeInMs);
    }
    return { deliveries, lastIds, wakeInMs };
  }

  /** Blocks until an entry is appended to any partition of the topic after `lastIds`. */
  async #waitForNew(topic: Topic, lastIds: string[], ms: number): Promise<void> {
    const blockMs = Math.max(1, Math.ceil(ms));
    const connection = this.#blocking.acquire();
    if (connection === null) {
      return delay(Math.min(blockMs, FALLBACK_POLL_MS), this.#closing.signal);
    }
    try {
      const streams = this.#partitions.map((partition) => this.#keys(topic, partition).stream);
      await connection.xread('COUNT', 1, 'BLOCK', blockMs, 'STREAMS', ...streams, ...lastIds);
    } finally {
      this.#blocking.release(connection);
    }
  }

  /** The partition's keys and the lease a delivery claims; null when it cannot be ours. */
  #held(topic: Topic, delivery: Delivery): { keys: PartitionKeys; lock: Lock } | null {
    const ref = parseRef(delivery.id, this.#partitions.length);
    const [, deliveries, consumer] = LEASE.exec(delivery.lease) ?? [];
    if (ref === null || deliveries === undefined || consumer === undefined) return null;
    const lock = { entryId: ref.entryId, consumer, deliveries };
    return { keys: this.#keys(topic, ref.partition), lock };
  }

  async ack(topic: Topic, delivery: Delivery) {
    const held = this.#held(topic, delivery);
    return held !== null && (await this.#scripts.ack(held.keys, held.lock));
  }

  /** One script: the lease is checked, the handled message acked and the next one appended
   * together, or nothing happens. */
  async handOff(topic: Topic, delivery: Delivery, next: NextMessage) {
    const held = this.#held(topic, delivery);
    if (held === null) return false;
    const to = this.#keysFor(next.topic, next.partitionKey ?? next.key);
    const message = newMessage(next.key, next.payload);
    return this.#scripts
      .handOff(held.keys, held.lock, to, message, this.#maxLength)
      .catch(backlogFull(next.topic));
  }

  retry(topic: Topic, delivery: Delivery, delayMs: number) {
    return this.#putBack(topic, delivery, delayMs, 1);
  }

  release(topic: Topic, delivery: Delivery, delayMs: number) {
    return this.#putBack(topic, delivery, delayMs, 0);
  }

  async #putBack(topic: Topic, delivery: Delivery, delayMs: number, counted: 0 | 1) {
    const held = this.#held(topic, delivery);
    const ms = wholeMs(delayMs);
    return held !== null && (await this.#scripts.putBack(held.keys, held.lock, counted, ms));
  }

  async deadLetter(topic: Topic, delivery: Delivery, reason: string) {
    const held = this.#held(topic, delivery);
    return held !== null && (await this.#scripts.deadLetter(held.keys, held.lock, reason));
  }

  /** Merges the partitions' dead-letter streams (see `compareEntries`). */
  async listDeadLetters<T>(
    topic: Topic,
    page: { limit: number; after?: string; through?: string },
  ) {
    const partitions = this.#partitions.length;
    const after = pageRef(page.after, partitions, 'cursor');
    const through = pageRef(page.through, partitions, 'bound');
    const limit = Math.max(0, Math.floor(page.limit));
    const pages = await Promise.all(
      this.#partitions.map(async (partition) => {
        // Exclusive of the cursor where ties sort before it, inclusive where they sort after;
        // the bound the other way round.
        const open = after !== null && partition <= after.partition ? '(' : '';
        const start = after === null ? '-' : `${open}${after.entryId}`;
        const close = through !== null && partition > through.partition ? '(' : '';
        const end = through === null ? '+' : `${close}${through.entryId}`;
        // One more than a page tells whether a next page exists.
        const dead = this.#keys(topic, partition).dead;
        const entries = await this.#redis.xrange(dead, start, end, 'COUNT', limit + 1);
        return entries.map(([entryId, flat]) => ({ entryId, partition, fields: fieldsOf(flat) }));
      }),
    );
    const letters = pages.flat().sort(compareEntries);
    const items = letters.slice(0, limit).map((entry) => toDeadLetter<T>(topic, entry));
    const last = items.at(-1);
    const result: DeadLetterPage<T> = { items };
    if (letters.length > limit && last) result.next = last.id;
    return result;
  }

  async newestDeadLetterId(topic: Topic) {
    const newest = await Promise.all(
      this.#partitions.map(async (partition): Promise<Ref | null> => {
        const dead = this.#keys(topic, partition).dead;
        const [entry] = await this.#redis.xrevrange(dead, '+', '-', 'COUNT', 1);
        return entry ? { entryId: entry[0], partition } : null;
      }),
    );
    const last = newest.reduce<Ref | null>(
      (max, ref) => (ref !== null && (max === null || compareEntries(ref, max) > 0) ? ref : max),
      null,
    );
    return last ? refId(last) : null;
  }

  async getDeadLetter<T>(topic: Topic, deadLetterId: string) {
    const ref = parseRef(deadLetterId, this.#partitions.length);
    if (ref === null) return null;
    const dead = this.#keys(topic, ref.partition).dead;
    const [found] = await this.#redis.xrange(dead, ref.entryId, ref.entryId);
    return found ? toDeadLetter<T>(topic, { ...ref, fields: fieldsOf(found[1]) }) : null;
  }

  async replayDeadLetter(topic: Topic, deadLetterId: string) {
    const ref = parseRef(deadLetterId, this.#partitions.length);
    if (ref === null) return false;
    return this.#scripts.replay(this.#keys(topic, ref.partition), ref.entryId, Date.now());
  }

  async purgeDeadLetters(topic: Topic, before: number) {
    if (Number.isNaN(before)) return 0;
    let purged = 0;
    for (const partition of this.#partitions) {
      for (let done = false; !done;) {
        const batch = await this.#scripts.purge(this.#keys(topic, partition), before);
        purged += batch.deleted;
        done = batch.done;
      }
    }
    return purged;
  }

  /** Acked messages are deleted, so every stream entry counts: depth is XLEN + ZCARD. */
  async depth(topic: Topic) {
    const counts = await Promise.all(
      this.#partitions.flatMap((partition) => {
        const { stream, delayed } = this.#keys(topic, partition);
        return [this.#redis.xlen(stream), this.#redis.zcard(delayed)];
      }),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  async deadLetterCount(topic: Topic) {
    const dead = this.#partitions.map((partition) => this.#keys(topic, partition).dead);
    const counts = await Promise.all(dead.map((key) => this.#redis.xlen(key)));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /**
   * From the head of each partition's stream and delayed set: exact unless a retried message
   * (which keeps its publish time) sits behind younger ones, when it is a lower bound.
   */
  async oldestAgeMs(topic: Topic) {
    const heads = await Promise.all(
      this.#partitions.map(async (partition) => {
        const { stream, delayed } = this.#keys(topic, partition);
        const [[first], [member]] = await Promise.all([
          this.#redis.xrange(stream, '-', '+', 'COUNT', 1),
          this.#redis.zrange(delayed, 0, 0),
        ]);
        const streamHead = first ? messageOf(fieldsOf(first[1])).publishedAt : Infinity;
        // A delayed member is [nonce, key, payload, attempt, published_at].
        const delayedHead = member
          ? Number(asText(asList(parsePayload(member, `delayed head of ${topic}`))[4]))
          : Infinity;
        return Math.min(streamHead, delayedHead);
      }),
    );
    const oldest = Math.min(...heads);
    return Number.isFinite(oldest) ? Math.max(0, Date.now() - oldest) : 0;
  }

  async ping() {
    if (this.#closed) throw new Error('The Redis queue is closed');
    await this.#redis.ping();
  }

  async close() {
    if (this.#closed) return;
    this.#closing.abort();
    this.#blocking.closeAll();
    const tidy = async () => {
      for (const topic of TOPICS) {
        for (const partition of this.#partitions) {
          await this.#scripts.forgetConsumer(this.#keys(topic, partition), this.consumerName);
        }
      }
      await this.#redis.quit();
    };
    // An unreachable server must not hold up shutdown.
    const giveUp = new AbortController();
    await Promise.race([tidy().catch(() => undefined), delay(CLOSE_TIMEOUT_MS, giveUp.signal)]);
    giveUp.abort();
    this.#redis.disconnect();
  }
}

export function createRedisQueue(options: RedisQueueOptions): RedisQueue {
  return new RedisQueueAdapter(options);
}
