/**
 * The queue port: what the core needs from a message queue, and what every adapter must
 * guarantee. The core (API, worker, dispatcher) depends on this file only; adapters live
 * beside it (`sqlite.ts`, `redis.ts`) and are opened by `wiring/adapters.ts`.
 *
 * Guarantees every adapter must give (the contract suite in `test/contract/queue.contract.ts`
 * checks them):
 *
 * - **Durable publish.** `publish` resolves only once the message survives a crash of the
 *   publishing process. The API answers `202` after it resolves.
 * - **At-least-once delivery.** A received message is leased to its receiver for `leaseMs`.
 *   If it is neither acked, retried nor dead-lettered before the lease ends (the receiver
 *   crashed or hung), it is delivered again, to this or another receiver. Handlers are
 *   therefore idempotent by `key` (the request id).
 * - **No double lease.** While a lease is live, no other `receive` returns that message.
 * - **Roughly FIFO.** Ready messages are handed out in publish order per topic (per partition
 *   where an adapter partitions); a retried message goes to the back with its delay. No
 *   stronger ordering is promised, and the core relies on none.
 * - **Delayed retry.** `retry` (and `release`, which does not count an attempt) makes the message invisible for `delayMs`, then ready again,
 *   with `attempt` incremented. It is atomic: the message is never lost nor duplicated by it.
 * - **Dead letters.** `deadLetter` moves a message out of the topic into the topic's dead-letter
 *   list, keeping payload, key and attempt count, until it is replayed or purged.
 * - **An unreadable message is handed out like any other.** A message whose stored payload is
 *   not valid JSON (a damaged file, a foreign writer) comes with `unreadable: true` and a `null`
 *   payload, never its text, so that its receiver sets it aside (`consumer.ts` dead-letters it)
 *   along with the other messages it cannot handle, and the rest of its batch is not held up.
 *   Dead-lettered, its payload reads as `null` too.
 * - **Leases are checked.** `ack`, `retry` and `deadLetter` on a message whose lease has expired
 *   and been taken by another receiver are no-ops that return `false`.
 */

/** The queues Chargegate uses. */
export type Topic = 'requests' | 'callbacks';

export const TOPICS: readonly Topic[] = ['requests', 'callbacks'];

/** A message handed to a receiver: readable, or not (its stored payload is not JSON). */
export type Delivery<T = unknown> = ReadableDelivery<T> | UnreadableDelivery;

/** What every delivery carries besides its payload. */
export interface Leased {
  /** Adapter-specific id of this message; pass it back to `ack`, `retry`, `deadLetter`. */
  readonly id: string;
  /** Business key (the request id); handlers are idempotent by it. */
  readonly key: string;
  /** How many times `retry` was called on this message: 0 on the first attempt. */
  readonly attempt: number;
  /** When the message was first published (ms since epoch). */
  readonly publishedAt: number;
  /** Opaque lease token; the adapter uses it to refuse stale acks. */
  readonly lease: string;
}

export interface ReadableDelivery<T = unknown> extends Leased {
  readonly payload: T;
  readonly unreadable?: never;
}

/** Never its text: a damaged payload may still hold a driver token. */
export interface UnreadableDelivery extends Leased {
  readonly payload: null;
  readonly unreadable: true;
}

/** What `handOff` publishes: `publish`'s arguments. */
export interface NextMessage {
  topic: Topic;
  key: string;
  payload: unknown;
  partitionKey?: string;
}

export interface ReceiveOptions {
  /** Most messages to return. */
  max: number;
  /** How long the messages stay leased to this receiver. */
  leaseMs: number;
  /**
   * How long to wait for a first message when none is ready. Adapters may return earlier
   * (with or without messages); callers simply loop.
   */
  waitMs: number;
}

export interface DeadLetter<T = unknown> {
  /** Id of the dead letter itself (not of the original message). */
  readonly id: string;
  readonly topic: Topic;
  readonly key: string;
  /** `null` when the stored payload is not valid JSON (the reason says so). */
  readonly payload: T | null;
  readonly attempt: number;
  readonly publishedAt: number;
  readonly deadLetteredAt: number;
  readonly reason: string;
}

export interface DeadLetterPage<T = unknown> {
  items: DeadLetter<T>[];
  /** Pass as `after` to read the next page; absent on the last page. */
  next?: string;
}

export interface Queue {
  /**
   * Durably appends a message. Resolves only once it is persisted. Adapters that partition a
   * topic put messages with the same `partitionKey` (default: `key`) in the same partition;
   * Chargegate uses the station id, so one station's traffic stays on one shard.
   */
  publish(
    topic: Topic,
    key: string,
    payload: unknown,
    options?: { delayMs?: number; partitionKey?: string },
  ): Promise<void>;

  /** Leases up to `max` ready messages. */
  receive<T = unknown>(topic: Topic, options: ReceiveOptions): Promise<Delivery<T>[]>;

  /** Removes a handled message. `false` when the lease was lost. */
  ack(topic: Topic, delivery: Delivery): Promise<boolean>;

  /**
   * Acks a handled message and publishes the message it leads to (a decided request's
   * callback) in one atomic write, so a request never leaves two callback messages behind.
   * `false` when the lease was lost (whoever holds the message now hands it off); a full queue
   * for the next message refuses it as `publish` does. Either way, nothing changed.
   */
  handOff(topic: Topic, delivery: Delivery, next: NextMessage): Promise<boolean>;

  /** Puts the message back, ready again after `delayMs`, with `attempt + 1`. */
  retry(topic: Topic, delivery: Delivery, delayMs: number): Promise<boolean>;

  /**
   * Puts the message back unchanged, ready again after `delayMs`, without counting an attempt:
   * for work deferred before it was tried (e.g. its callback host is at its concurrency limit).
   */
  release(topic: Topic, delivery: Delivery, delayMs: number): Promise<boolean>;

  /** Moves the message to the topic's dead letters. */
  deadLetter(topic: Topic, delivery: Delivery, reason: string): Promise<boolean>;

  /** Dead letters of a topic, oldest first; with `through` (an id `newestDeadLetterId`
   * answered), none newer than that one. */
  listDeadLetters<T = unknown>(
    topic: Topic,
    options: { limit: number; after?: string; through?: string },
  ): Promise<DeadLetterPage<T>>;

  /** The id of the topic's newest dead letter, `null` when there is none: as `through`, it
   * bounds a walk over the dead letters to those that existed when it began. */
  newestDeadLetterId(topic: Topic): Promise<string | null>;

  /** One dead letter by its id; `null` when there is none (or the id is malformed). */
  getDeadLetter<T = unknown>(topic: Topic, deadLetterId: string): Promise<DeadLetter<T> | null>;

  /**
   * Publishes a dead letter again as a new message with `attempt` 0 and the same key, and
   * removes the dead letter, atomically where the engine allows. `false` when no such letter.
   */
  replayDeadLetter(topic: Topic, deadLetterId: string): Promise<boolean>;

  /** Deletes dead letters dead-lettered before `before` (ms since epoch); returns how many. */
  purgeDeadLetters(topic: Topic, before: number): Promise<number>;

  /** Messages in the topic not yet acked (ready, delayed or leased). */
  depth(topic: Topic): Promise<number>;

  /** Dead letters held for the topic. */
  deadLetterCount(topic: Topic): Promise<number>;

  /** Age in ms of the oldest message not yet acked; 0 when empty. */
  oldestAgeMs(topic: Topic): Promise<number>;

  /** Throws when the queue cannot serve (used by `/health/ready`). */
  ping(): Promise<void>;

  /** Releases connections. Pending `receive` calls resolve empty. */
  close(): Promise<void>;
}
