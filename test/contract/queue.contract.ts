import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Delivery, Queue, Topic } from '../../src/queue/port.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The queue port's contract (src/queue/port.ts), run against every adapter. An adapter's test
 * file calls `queueContract` with a factory that returns a fresh, empty queue per test and a
 * `cleanup` that releases it; `cleanup` must tolerate a queue the test already closed.
 */
/** Reads every dead letter of `topic` (up to `through`), `limit` per page, following `next`:
 * the keys, oldest first, and how many pages it took (at most 10, so a cursor that never ends
 * fails the test). */
export async function pageDeadLetters(
  queue: Queue,
  topic: Topic,
  limit: number,
  through?: string,
): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let after: string | undefined;
  let pages = 0;
  do {
    const page = await queue.listDeadLetters(topic, {
      limit,
      ...(after === undefined ? {} : { after }),
      ...(through === undefined ? {} : { through }),
    });
    keys.push(...page.items.map((item) => item.key));
    after = page.next;
    pages += 1;
  } while (after !== undefined && pages < 10);
  return { keys, pages };
}

export interface QueueFixture {
  queue: Queue;
  cleanup: () => Promise<void>;
  /** Stores a message on `topic` whose payload is exactly `text`, as a damaged file would. */
  publishRaw: (topic: Topic, key: string, text: string) => Promise<void>;
}

/** Long enough never to lapse during a test, even on a slow CI machine. */
const LONG_LEASE_MS = 60_000;
/** Short enough that lease-expiry tests finish quickly. */
const SHORT_LEASE_MS = 50;
/** A waiting receive must react well within this, far below its own `waitMs`. */
const PROMPT_MS = 1_000;
/** Long enough that a test cannot pass by its wait simply running out. */
const LONG_WAIT_MS = 10_000;

/** Receives until something arrives or `withinMs` passes: the port lets `receive` return early. */
async function receiveWithin<T>(
  queue: Queue,
  topic: Topic,
  withinMs: number,
  leaseMs = LONG_LEASE_MS,
): Promise<Delivery<T>[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const waitMs = Math.max(0, deadline - Date.now());
    const batch = await queue.receive<T>(topic, { max: 10, leaseMs, waitMs });
    if (batch.length > 0 || waitMs === 0) return batch;
  }
}

async function receiveOne<T = unknown>(
  queue: Queue,
  leaseMs = LONG_LEASE_MS,
  topic: Topic = 'requests',
): Promise<Delivery<T>> {
  const [delivery] = await queue.receive<T>(topic, { max: 1, leaseMs, waitMs: PROMPT_MS });
  if (!delivery) throw new Error(`expected a message on ${topic}`);
  return delivery;
}

/** Polls without waiting inside `receive`, so the test controls the deadline. */
function nextReady<T = unknown>(queue: Queue, topic: Topic = 'requests') {
  return waitFor(
    async () => (await queue.receive<T>(topic, { max: 1, leaseMs: LONG_LEASE_MS, waitMs: 0 }))[0],
    { timeoutMs: 5_000, intervalMs: 10, message: `a ready message on ${topic}` },
  );
}

async function isEmptyNow(queue: Queue, topic: Topic = 'requests'): Promise<boolean> {
  const batch = await queue.receive(topic, { max: 10, leaseMs: LONG_LEASE_MS, waitMs: 0 });
  return batch.length === 0;
}

export function queueContract(name: string, makeQueue: () => Promise<QueueFixture>): void {
  describe(`${name} queue (port contract)`, () => {
    let queue: Queue;
    let cleanup: () => Promise<void>;
    let publishRaw: QueueFixture['publishRaw'];

    beforeEach(async () => {
      ({ queue, cleanup, publishRaw } = await makeQueue());
    });
    afterEach(() => cleanup());

    describe('delivery', () => {
      it('delivers a published message once and not again after ack', async () => {
        const before = Date.now();
        await queue.publish('requests', 'k1', { n: 1, nested: ['a'] });
        const delivery = await receiveOne(queue);
        expect(delivery).toMatchObject({ key: 'k1', payload: { n: 1, nested: ['a'] }, attempt: 0 });
        expect(delivery.publishedAt).toBeGreaterThanOrEqual(before);
        expect(delivery.publishedAt).toBeLessThanOrEqual(Date.now());
        expect(await queue.ack('requests', delivery)).toBe(true);
        expect(await isEmptyNow(queue)).toBe(true);
        expect(await queue.depth('requests')).toBe(0);
        expect(await queue.ack('requests', delivery)).toBe(false);
      });

      it('hands out ready messages in publish order', async () => {
        for (const key of ['a', 'b', 'c', 'd']) await queue.publish('requests', key, { key });
        const first = await queue.receive('requests', {
          max: 2,
          leaseMs: LONG_LEASE_MS,
          waitMs: 0,
        });
        const rest = await queue.receive('requests', { max: 9, leaseMs: LONG_LEASE_MS, waitMs: 0 });
        expect([...first, ...rest].map((d) => d.key)).toEqual(['a', 'b', 'c', 'd']);
      });

      it('returns at most max messages', async () => {
        for (let i = 0; i < 5; i++) await queue.publish('requests', `k${i}`, i);
        const batch = await queue.receive('requests', {
          max: 2,
          leaseMs: LONG_LEASE_MS,
          waitMs: 0,
        });
        expect(batch).toHaveLength(2);
      });

      it('keeps topics apart', async () => {
        await queue.publish('callbacks', 'cb', { to: 'callbacks' });
        expect(await isEmptyNow(queue, 'requests')).toBe(true);
        expect((await receiveOne(queue, LONG_LEASE_MS, 'callbacks')).key).toBe('cb');
        expect(await queue.depth('requests')).toBe(0);
      });

      it('delays a message published with delayMs until the delay has passed', async () => {
        const before = Date.now();
        await queue.publish('requests', 'later', null, { delayMs: 200 });
        expect(await isEmptyNow(queue)).toBe(true);
        expect(await queue.depth('requests')).toBe(1);
        const delivery = await nextReady(queue);
        expect(Date.now() - before).toBeGreaterThanOrEqual(200);
        expect(delivery).toMatchObject({ key: 'later', payload: null, attempt: 0 });
      });
    });

    describe('leases', () => {
      it('never hands a leased message to a second receiver', async () => {
        await queue.publish('requests', 'only', {});
        await receiveOne(queue);
        const second = await queue.receive('requests', { max: 10, leaseMs: 1_000, waitMs: 100 });
        expect(second).toEqual([]);
      });

      it('shares messages between concurrent receivers without handing any out twice', async () => {
        const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
        for (const key of keys) await queue.publish('requests', key, { key });
        const seen: string[] = [];
        const consume = async () => {
          for (;;) {
            const batch = await queue.receive('requests', { max: 3, leaseMs: 60_000, waitMs: 0 });
            if (batch.length === 0) return;
            for (const delivery of batch) {
              seen.push(delivery.key);
              expect(await queue.ack('requests', delivery)).toBe(true);
            }
          }
        };
        await Promise.all([consume(), consume(), consume()]);
        expect(seen.toSorted()).toEqual(keys.toSorted());
      });

      it('redelivers a message whose lease expired, with the same key and attempt', async () => {
        await queue.publish('requests', 'k', { v: 1 });
        const leasedAt = Date.now();
        const first = await receiveOne(queue, SHORT_LEASE_MS);
        const second = await nextReady(queue);
        expect(Date.now() - leasedAt).toBeGreaterThanOrEqual(SHORT_LEASE_MS);
        expect(second).toMatchObject({ key: 'k', payload: { v: 1 }, attempt: 0 });
        expect(second.lease).not.toBe(first.lease);
      });

      it('refuses a stale ack, retry or dead letter after the lease was taken over', async () => {
        await queue.publish('requests', 'k', {});
        const stale = await receiveOne(queue, SHORT_LEASE_MS);
        const current = await nextReady(queue);
        expect(await queue.ack('requests', stale)).toBe(false);
        expect(await queue.retry('requests', stale, 0)).toBe(false);
        expect(await queue.deadLetter('requests', stale, 'stale')).toBe(false);
        expect(await queue.deadLetterCount('requests')).toBe(0);
        expect(await queue.ack('requests', current)).toBe(true);
        expect(await queue.depth('requests')).toBe(0);
      });

      it('hands a message off: acks it and publishes the next one, ready at once', async () => {
        await queue.publish('requests', 'r1', { step: 'request' });
        const request = await receiveOne(queue);
        const next = { topic: 'callbacks' as const, key: 'r1', payload: { step: 'callback' } };
        expect(await queue.handOff('requests', request, { ...next, partitionKey: 'station' })).toBe(
          true,
        );
        expect(await queue.depth('requests')).toBe(0);
        expect(await isEmptyNow(queue)).toBe(true);
        // Without waiting: ready as soon as the hand-off has returned.
        const [handedOff] = await queue.receive('callbacks', {
          max: 1,
          leaseMs: LONG_LEASE_MS,
          waitMs: 0,
        });
        expect(handedOff).toMatchObject({ key: 'r1', payload: { step: 'callback' }, attempt: 0 });
        expect(await queue.depth('callbacks')).toBe(1);
        // Handed off already: nothing happens a second time.
        expect(await queue.handOff('requests', request, next)).toBe(false);
        expect(await queue.depth('callbacks')).toBe(1);
      });

      it('refuses a stale hand-off: nothing is published, and the message stays with the receiver that took it over', async () => {
        await queue.publish('requests', 'k', {});
        const stale = await receiveOne(queue, SHORT_LEASE_MS);
        const current = await nextReady(queue);
        const next = { topic: 'callbacks' as const, key: 'k', payload: {} };
        expect(await queue.handOff('requests', stale, next)).toBe(false);
        // Neither acked nor published: one write, all or nothing.
        expect([await queue.depth('requests'), await queue.depth('callbacks')]).toEqual([1, 0]);
        expect(await queue.handOff('requests', current, next)).toBe(true);
        expect([await queue.depth('requests'), await queue.depth('callbacks')]).toEqual([0, 1]);
      });
    });

    describe('retry', () => {
      it('makes a retried message ready again only after its delay, with attempt incremented', async () => {
        await queue.publish('requests', 'k', { v: 2 });
        const first = await receiveOne(queue);
        const retriedAt = Date.now();
        expect(await queue.retry('requests', first, 200)).toBe(true);
        expect(await isEmptyNow(queue)).toBe(true);
        expect(await queue.depth('requests')).toBe(1);
        const again = await nextReady(queue);
        expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(200);
        expect(again).toMatchObject({ key: 'k', payload: { v: 2 }, attempt: 1 });
        expect(again.publishedAt).toBe(first.publishedAt);
        expect(await queue.ack('requests', first)).toBe(false);
      });

      it('releases a message after its delay without counting an attempt', async () => {
        await queue.publish('requests', 'k', { v: 4 });
        const first = await receiveOne(queue);
        const releasedAt = Date.now();
        expect(await queue.release('requests', first, 150)).toBe(true);
        expect(await isEmptyNow(queue)).toBe(true);
        const again = await nextReady(queue);
        expect(Date.now() - releasedAt).toBeGreaterThanOrEqual(150);
        expect(again).toMatchObject({ key: 'k', payload: { v: 4 }, attempt: 0 });
        expect(await queue.release('requests', first, 0)).toBe(false);
      });
    });

    describe('dead letters', () => {
      async function deadLetter(key: string, reason = 'schedule exhausted'): Promise<void> {
        await queue.publish('requests', key, { key });
        const [delivery] = await receiveWithin(queue, 'requests', PROMPT_MS);
        if (!delivery) throw new Error('expected a message');
        expect(await queue.deadLetter('requests', delivery, reason)).toBe(true);
      }

      it('finds one dead letter by id, and null for an unknown or malformed id', async () => {
        await deadLetter('k1', 'gone away');
        const [letter] = (await queue.listDeadLetters('requests', { limit: 1 })).items;
        expect(await queue.getDeadLetter('requests', letter!.id)).toEqual(letter);
        expect(await queue.getDeadLetter('callbacks', letter!.id)).toBeNull();
        expect(await queue.getDeadLetter('requests', '999999')).toBeNull();
        expect(await queue.getDeadLetter('requests', 'not-an-id')).toBeNull();
      });

      it('keeps payload, key and attempt in a dead letter and replays it as attempt 0 under the same key', async () => {
        await queue.publish('requests', 'k', { v: 3 });
        await queue.retry('requests', await receiveOne(queue), 0);
        const retried = await receiveOne(queue);
        const before = Date.now();
        expect(await queue.deadLetter('requests', retried, 'http_500')).toBe(true);
        expect(await queue.depth('requests')).toBe(0);
        expect(await queue.deadLetterCount('requests')).toBe(1);

        const { items, next } = await queue.listDeadLetters('requests', { limit: 10 });
        expect(next).toBeUndefined();
        expect(items).toHaveLength(1);
        const [letter] = items;
        expect(letter).toMatchObject({ topic: 'requests', key: 'k', payload: { v: 3 } });
        expect(letter).toMatchObject({ attempt: 1, reason: 'http_500' });
        expect(letter?.publishedAt).toBe(retried.publishedAt);
        expect(letter?.deadLetteredAt).toBeGreaterThanOrEqual(before);

        expect(await queue.replayDeadLetter('requests', letter?.id ?? '')).toBe(true);
        expect(await queue.deadLetterCount('requests')).toBe(0);
        expect(await receiveOne(queue)).toMatchObject({ key: 'k', payload: { v: 3 }, attempt: 0 });
        expect(await queue.replayDeadLetter('requests', letter?.id ?? '')).toBe(false);
      });

      it('hands out a message whose payload is not JSON marked unreadable, never its text, with the rest', async () => {
        const token = 'leaky-token-0000000000001';
        await queue.publish('requests', 'before', { n: 1 });
        await publishRaw('requests', 'broken', `{"driver_token":"${token}"`);
        await queue.publish('requests', 'after', { n: 2 });
        const received: Delivery[] = [];
        await waitFor(
          async () => {
            received.push(
              ...(await queue.receive('requests', { max: 10, leaseMs: LONG_LEASE_MS, waitMs: 0 })),
            );
            return received.length >= 3;
          },
          { timeoutMs: 5_000, intervalMs: 10, message: 'all three messages' },
        );
        const byKey = new Map(received.map((delivery) => [delivery.key, delivery]));
        expect([...byKey.keys()].sort()).toEqual(['after', 'before', 'broken']);
        expect(byKey.get('broken')).toMatchObject({ payload: null, unreadable: true, attempt: 0 });
        expect(byKey.get('before')).toMatchObject({ payload: { n: 1 } });
        expect(byKey.get('before')?.unreadable).toBeUndefined();
        expect(JSON.stringify(received)).not.toContain(token);

        // Its receiver sets it aside; as a dead letter it reads as null too.
        expect(await queue.deadLetter('requests', byKey.get('broken')!, 'unreadable')).toBe(true);
        const { items } = await queue.listDeadLetters('requests', { limit: 10 });
        expect(items).toEqual([
          expect.objectContaining({ key: 'broken', payload: null, reason: 'unreadable' }),
        ]);
        expect(JSON.stringify(items)).not.toContain(token);
        expect(await queue.depth('requests')).toBe(2);
      });

      it('hands an unreadable message to a waiting receive at once', async () => {
        await publishRaw('requests', 'broken', '{"v":1');
        const started = Date.now();
        const batch = await queue.receive('requests', {
          max: 10,
          leaseMs: LONG_LEASE_MS,
          waitMs: LONG_WAIT_MS,
        });
        expect(Date.now() - started).toBeLessThan(PROMPT_MS);
        expect(batch).toEqual([expect.objectContaining({ key: 'broken', unreadable: true })]);
      });

      it('names the newest dead letter, and lists none newer than it with through', async () => {
        expect(await queue.newestDeadLetterId('requests')).toBeNull();
        for (const key of ['d1', 'd2', 'd3']) await deadLetter(key);
        const through = await queue.newestDeadLetterId('requests');
        const [, , newest] = (await queue.listDeadLetters('requests', { limit: 10 })).items;
        expect(through).toBe(newest?.id);
        await deadLetter('after-1');
        await deadLetter('after-2');
        expect(await queue.newestDeadLetterId('callbacks')).toBeNull();
        expect(await pageDeadLetters(queue, 'requests', 10, through!)).toEqual({
          keys: ['d1', 'd2', 'd3'],
          pages: 1,
        });
        expect(await pageDeadLetters(queue, 'requests', 1, through!)).toEqual({
          keys: ['d1', 'd2', 'd3'],
          pages: 3,
        });
        expect((await pageDeadLetters(queue, 'requests', 10)).keys).toHaveLength(5);
        await expect(
          queue.listDeadLetters('requests', { limit: 1, through: 'not-an-id' }),
        ).rejects.toThrow(RangeError);
      });

      it('pages dead letters with after, oldest first', async () => {
        const keys = ['d1', 'd2', 'd3', 'd4', 'd5'];
        for (const key of keys) await deadLetter(key);
        expect(await pageDeadLetters(queue, 'requests', 2)).toEqual({ keys, pages: 3 });
      });

      it('purges dead letters older than a time', async () => {
        await deadLetter('old');
        const [old] = (await queue.listDeadLetters('requests', { limit: 1 })).items;
        await waitFor(() => Date.now() > (old?.deadLetteredAt ?? Infinity), { timeoutMs: 1_000 });
        await deadLetter('new');
        const { items } = await queue.listDeadLetters('requests', { limit: 10 });
        const newAt = items.find((item) => item.key === 'new')?.deadLetteredAt ?? 0;

        expect(await queue.purgeDeadLetters('callbacks', Date.now() + 1)).toBe(0);
        expect(await queue.purgeDeadLetters('requests', newAt)).toBe(1);
        const left = await queue.listDeadLetters('requests', { limit: 10 });
        expect(left.items.map((item) => item.key)).toEqual(['new']);
        expect(await queue.deadLetterCount('requests')).toBe(1);
      });
    });

    describe('gauges', () => {
      it('reports depth, oldestAgeMs and deadLetterCount per topic', async () => {
        expect(await queue.depth('requests')).toBe(0);
        expect(await queue.oldestAgeMs('requests')).toBe(0);
        expect(await queue.deadLetterCount('requests')).toBe(0);

        const before = Date.now();
        await queue.publish('requests', 'acked', {});
        await queue.publish('requests', 'dead', {});
        await queue.publish('requests', 'delayed', {}, { delayMs: 60_000 });
        expect(await queue.depth('requests')).toBe(3);
        await waitFor(async () => (await queue.oldestAgeMs('requests')) >= 20, {
          timeoutMs: 2_000,
        });
        expect(await queue.oldestAgeMs('requests')).toBeLessThanOrEqual(Date.now() - before);

        const batch = await queue.receive('requests', { max: 9, leaseMs: 60_000, waitMs: 0 });
        expect(batch.map((d) => d.key)).toEqual(['acked', 'dead']);
        expect(await queue.depth('requests')).toBe(3);
        const [acked, dead] = batch;
        if (!acked || !dead) throw new Error('expected two ready messages');
        await queue.ack('requests', acked);
        await queue.deadLetter('requests', dead, 'gone');
        expect(await queue.depth('requests')).toBe(1);
        expect(await queue.deadLetterCount('requests')).toBe(1);
        expect(await queue.depth('callbacks')).toBe(0);
        expect(await queue.deadLetterCount('callbacks')).toBe(0);
        expect(await queue.oldestAgeMs('callbacks')).toBe(0);
      });
    });

    describe('waiting and closing', () => {
      it('wakes a waiting receive when a message is published', async () => {
        const started = Date.now();
        const waiting = receiveWithin(queue, 'requests', LONG_WAIT_MS);
        await queue.publish('requests', 'wake', {});
        const batch = await waiting;
        expect(batch.map((d) => d.key)).toEqual(['wake']);
        expect(Date.now() - started).toBeLessThan(PROMPT_MS);
      });

      it('close resolves a waiting receive with no messages', async () => {
        const started = Date.now();
        const waiting = queue.receive('requests', { max: 1, leaseMs: 1_000, waitMs: LONG_WAIT_MS });
        await queue.close();
        expect(await waiting).toEqual([]);
        expect(Date.now() - started).toBeLessThan(PROMPT_MS);
      });

      it('answers ping while open and fails it after close', async () => {
        await expect(queue.ping()).resolves.toBeUndefined();
        await queue.close();
        await expect(queue.ping()).rejects.toThrow();
      });
    });
  });
}
