import type { Delivery, Leased, Queue, ReadableDelivery, Topic } from './port.js';
import type { Unfit } from './messages.js';
import { UNREADABLE_PAYLOAD } from './payload.js';
import { delay } from '../lib/time.js';

export interface ConsumerLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface Consumer {
  /** Messages being handled right now. */
  readonly inFlight: number;
  /** Stops receiving, then waits for in-flight handlers (at most `timeoutMs`). */
  stop(timeoutMs: number): Promise<void>;
}

/** A message stays leased for the time its handler may take plus this margin for the writes
 * around it. Short, because after a crash an in-flight message waits for its lease to expire
 * before another worker takes it over. */
export const LEASE_MARGIN_MS = 5_000;

/** A message of a later release goes back for this long: an old worker does not spin on it
 * while a rolling upgrade finishes, and an upgraded worker gets it soon after. */
const LATER_RELEASE_RETRY_MS = 30_000;

/** How long one receive waits for messages before looping: short, so that stopping is prompt. */
const RECEIVE_WAIT_MS = 250;

/** After a failed receive (queue unreachable), wait this long, doubling up to the cap. */
const RECEIVE_BACKOFF_MS = 100;
const RECEIVE_BACKOFF_MAX_MS = 5_000;

/**
 * Runs `handle` on every message of a topic with at most `concurrency` messages in flight.
 * Messages are only received when a slot is free, so a backlog stays in the queue (where it is
 * durable and visible) instead of in memory. A handler that throws leaves its message leased:
 * it is redelivered when the lease expires, which is the at-least-once retry of last resort.
 */
export function startConsumer<T>(options: {
  queue: Queue;
  topic: Topic;
  concurrency: number;
  leaseMs: number;
  handle: (delivery: ReadableDelivery<T>) => Promise<void>;
  /** Why a payload cannot be handled by this release (`queue/messages.ts`), or `null`. Such a
   * message, like one whose payload is not JSON at all, is never handed to `handle`, which
   * would fail on every redelivery. */
  unfit: (payload: unknown) => Unfit | null;
  /**
   * Called before a message is dead-lettered as unreadable or unfit, to record that beside its
   * session (its key is the request id; its payload, which may hold a token, is not passed).
   * It may answer a delay instead: the message is then put back for that long, not
   * dead-lettered (its session is not stored yet). When it throws, the message stays leased and comes back when the lease
   * ends, so a message is never dead-lettered without its session saying so.
   */
  beforeDeadLetter: (delivery: Leased) => Promise<number | null>;
  logger: ConsumerLogger;
}): Consumer {
  const { queue, topic, concurrency, leaseMs, handle, logger } = options;
  const stopping = new AbortController();
  const running = new Set<Promise<void>>();
  let slotFreed: (() => void) | null = null;

  /** Logged with its key (a request id) and the reason only: the payload may hold a token. */
  async function setAside(delivery: Delivery<T>, unfit: Unfit): Promise<void> {
    const fields = { topic, key: delivery.key, reason: unfit.reason };
    if (unfit.later) {
      if (await queue.release(topic, delivery, LATER_RELEASE_RETRY_MS)) {
        logger.warn(
          { ...fields, retry_in_ms: LATER_RELEASE_RETRY_MS },
          'message left for a worker of a later release',
        );
      }
      return;
    }
    const deferMs = await options.beforeDeadLetter(delivery);
    if (deferMs !== null) {
      await queue.release(topic, delivery, deferMs);
      return;
    }
    // False: the lease was lost meanwhile, and whoever holds the message now deals with it.
    if (!(await queue.deadLetter(topic, delivery, unfit.reason))) return;
    logger.warn(fields, 'message dead-lettered: this release cannot handle it');
  }

  function handleOrSetAside(delivery: Delivery<T>): Promise<void> {
    if (delivery.unreadable)
      return setAside(delivery, { reason: UNREADABLE_PAYLOAD, later: false });
    const unfit = options.unfit(delivery.payload);
    return unfit === null ? handle(delivery) : setAside(delivery, unfit);
  }

  function dispatch(delivery: Delivery<T>) {
    const task = handleOrSetAside(delivery)
      .catch((error: unknown) => {
        logger.error(
          { err: error, topic, key: delivery.key },
          'message handler failed; it will be redelivered',
        );
      })
      .finally(() => {
        running.delete(task);
        slotFreed?.();
      });
    running.add(task);
  }

  async function loop() {
    let backoff = RECEIVE_BACKOFF_MS;
    while (!stopping.signal.aborted) {
      const free = concurrency - running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (slotFreed = resolve));
        slotFreed = null;
        continue;
      }
      try {
        const deliveries = await queue.receive<T>(topic, {
          max: free,
          leaseMs,
          waitMs: RECEIVE_WAIT_MS,
        });
        backoff = RECEIVE_BACKOFF_MS;
        for (const delivery of deliveries) dispatch(delivery);
      } catch (error) {
        if (stopping.signal.aborted) break;
        logger.warn({ err: error, topic, retry_in_ms: backoff }, 'receiving from the queue failed');
        await delay(backoff, stopping.signal);
        backoff = Math.min(backoff * 2, RECEIVE_BACKOFF_MAX_MS);
      }
    }
  }

  const looping = loop();

  return {
    get inFlight() {
      return running.size;
    },
    async stop(timeoutMs) {
      stopping.abort();
      slotFreed?.();
      await looping;
      const giveUp = new AbortController();
      const drained = Promise.all(running).then(() => true);
      const finished = await Promise.race([
        drained,
        delay(timeoutMs, giveUp.signal).then(() => false),
      ]);
      giveUp.abort();
      if (!finished) {
        logger.warn(
          { topic, in_flight: running.size },
          'shutdown timeout: unfinished messages will be redelivered',
        );
      }
    },
  };
}
