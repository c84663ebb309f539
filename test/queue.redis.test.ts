import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Delivery, Topic } from '../src/queue/port.js';
import { createRedisQueue } from '../src/queue/redis.js';
import type { RedisQueue, RedisQueueOptions } from '../src/queue/redis.js';
import { pageDeadLetters, queueContract } from './contract/queue.contract.js';
import { deleteRedisKeys, REDIS_URL, redisAvailable } from './helpers/servers.js';
import { waitFor } from './helpers/wait.js';

const haveRedis = await redisAvailable();

/** Long enough never to lapse during a test. */
const LONG_LEASE_MS = 60_000;
/** Short enough that reclaim tests finish quickly, long enough to observe the lease holding. */
const SHORT_LEASE_MS = 500;

const randomPrefix = () => `chargegate-test-${randomBytes(6).toString('hex')}`;

const streamKey = (prefix: string, partition = 0, topic: Topic = 'requests') =>
  `{${prefix}:${topic}:${partition}}:stream`;

async function drain(queue: RedisQueue, seen: Map<string, number>) {
  for (;;) {
    const batch = await queue.receive('requests', { max: 7, leaseMs: LONG_LEASE_MS, waitMs: 0 });
    if (batch.length === 0) return;
    for (const delivery of batch) {
      seen.set(delivery.key, (seen.get(delivery.key) ?? 0) + 1);
      expect(await queue.ack('requests', delivery)).toBe(true);
    }
  }
}

describe.skipIf(!haveRedis)('Redis', () => {
  queueContract('Redis', () => {
    const prefix = randomPrefix();
    const queue = createRedisQueue({ url: REDIS_URL, prefix });
    const cleanup = async () => {
      await queue.close();
      await deleteRedisKeys(REDIS_URL, prefix);
    };
    // One partition by default, so the raw entry joins the messages `publish` appends.
    const publishRaw = async (topic: Topic, key: string, text: string) => {
      const admin = new Redis(REDIS_URL);
      try {
        const fields = ['key', key, 'payload', text, 'attempt', '0'];
        await admin.xadd(streamKey(prefix, 0, topic), '*', ...fields, 'published_at', Date.now());
      } finally {
        await admin.quit();
      }
    };
    return Promise.resolve({ queue, cleanup, publishRaw });
  });

  describe('Redis queue', () => {
    let prefix: string;
    let admin: Redis;
    const opened: RedisQueue[] = [];
    const open = (options: Partial<RedisQueueOptions> = {}) => {
      const queue = createRedisQueue({ url: REDIS_URL, prefix, ...options });
      opened.push(queue);
      return queue;
    };
    /** Receives until a message arrives, failing the test after `timeoutMs`. */
    const nextFrom = (queue: RedisQueue, leaseMs = LONG_LEASE_MS, timeoutMs = 5_000) =>
      waitFor(async () => (await queue.receive('requests', { max: 1, leaseMs, waitMs: 100 }))[0], {
        timeoutMs,
        intervalMs: 0,
        message: 'a message on requests',
      });

    beforeEach(() => {
      prefix = randomPrefix();
      admin = new Redis(REDIS_URL);
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((queue) => queue.close()));
      await deleteRedisKeys(REDIS_URL, prefix);
      await admin.quit();
    });

    it('reclaims a message from a consumer that died holding it', async () => {
      const [dying, survivor] = [
        open({ consumerName: 'dying' }),
        open({ consumerName: 'survivor' }),
      ];
      await dying.publish('requests', 'k', { v: 1 });
      const leasedAt = Date.now();
      const held = await nextFrom(dying, SHORT_LEASE_MS);
      await dying.close();
      const [pending] = await survivor.receive('requests', { max: 1, leaseMs: 1_000, waitMs: 0 });
      expect(pending).toBeUndefined();

      const reclaimed = await nextFrom(survivor);
      expect(Date.now() - leasedAt).toBeGreaterThanOrEqual(SHORT_LEASE_MS);
      expect(reclaimed).toMatchObject({ id: held.id, key: 'k', payload: { v: 1 }, attempt: 0 });
      const [entry] = (await admin.xpending(streamKey(prefix), 'workers', '-', '+', 10)) as [
        string,
        string,
        number,
        number,
      ][];
      expect(entry?.[1]).toBe('survivor');
      expect(entry?.[3]).toBe(2);
      expect(await survivor.ack('requests', reclaimed)).toBe(true);
      expect(await survivor.depth('requests')).toBe(0);
    });

    it('a stale holder cannot ack after its lease was reclaimed', async () => {
      const [stale, current] = [open({ consumerName: 'stale' }), open({ consumerName: 'current' })];
      await stale.publish('requests', 'k', { v: 1 });
      const old = await nextFrom(stale, SHORT_LEASE_MS);
      const taken = await nextFrom(current);

      expect(await stale.ack('requests', old)).toBe(false);
      expect(await stale.retry('requests', old, 0)).toBe(false);
      expect(await stale.release('requests', old, 0)).toBe(false);
      expect(await stale.deadLetter('requests', old, 'stale')).toBe(false);
      // Nothing changed: the message is still leased to the current holder, once.
      expect(await current.depth('requests')).toBe(1);
      expect(await current.deadLetterCount('requests')).toBe(0);
      expect(await admin.xlen(streamKey(prefix))).toBe(1);
      expect(await current.receive('requests', { max: 9, leaseMs: 1_000, waitMs: 0 })).toEqual([]);
      expect(await current.ack('requests', taken)).toBe(true);
      expect(await current.depth('requests')).toBe(0);
    });

    it('recreates the consumer group when Redis loses it (NOGROUP)', async () => {
      const queue = open();
      const stream = streamKey(prefix);
      // Single receives, not a retrying helper: the first one after the loss must succeed.
      const receiveWithin = (waitMs: number) =>
        queue.receive('requests', { max: 10, leaseMs: LONG_LEASE_MS, waitMs });
      await queue.publish('requests', 'before', {});
      const [before] = await receiveWithin(2_000);
      if (before?.key !== 'before') throw new Error('expected the first message');

      // The pending list went with the group: the unacked message is delivered again.
      await admin.xgroup('DESTROY', stream, 'workers');
      expect(await queue.ack('requests', before)).toBe(false);
      await queue.publish('requests', 'after-destroy', {});
      const again = await receiveWithin(2_000);
      expect(again.map((delivery) => delivery.key)).toEqual(['before', 'after-destroy']);

      // As after a restart without persistence: every key gone while a receive waits.
      const waiting = receiveWithin(5_000);
      await deleteRedisKeys(REDIS_URL, prefix);
      await queue.publish('requests', 'after-flush', {});
      expect((await waiting).map((delivery) => delivery.key)).toEqual(['after-flush']);
      const groups = (await admin.xinfo('GROUPS', stream)) as unknown[][];
      expect(groups.map((group) => group[1])).toEqual(['workers']);
    });

    it('moves delayed retries into the stream when due, atomically', async () => {
      const [a, b] = [open(), open()];
      const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
      for (const key of keys) await a.publish('requests', key, { key });
      const first: Delivery[] = [];
      while (first.length < keys.length) {
        first.push(
          ...(await a.receive('requests', { max: 10, leaseMs: LONG_LEASE_MS, waitMs: 0 })),
        );
      }
      // Long enough that none is due before the check below, however slow the machine.
      const delayMs = 2_000;
      const retriedAt = Date.now();
      for (const delivery of first) expect(await a.retry('requests', delivery, delayMs)).toBe(true);

      /** Stream entries (ready or leased) and delayed members, read in one MULTI. */
      const places = async () => {
        const replies = await admin
          .multi()
          .xlen(streamKey(prefix))
          .zcard(`{${prefix}:requests:0}:delayed`)
          .exec();
        return (replies ?? []).map(([, count]) => Number(count));
      };
      expect(await places()).toEqual([0, keys.length]);
      expect(await b.receive('requests', { max: 1, leaseMs: 1_000, waitMs: 0 })).toEqual([]);

      // Both instances move due messages concurrently while a watcher samples both places:
      // a message is never in both (a sum above the total), and each comes back exactly once.
      const back = new Map<string, Delivery[]>();
      const take = async (queue: RedisQueue) => {
        const batch = await queue.receive('requests', {
          max: 5,
          leaseMs: LONG_LEASE_MS,
          waitMs: 50,
        });
        for (const delivery of batch)
          back.set(delivery.key, [...(back.get(delivery.key) ?? []), delivery]);
      };
      const sums: number[] = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) sums.push((await places()).reduce((sum, count) => sum + count, 0));
      })();
      await waitFor(
        async () => {
          await Promise.all([take(a), take(b)]);
          return back.size === keys.length;
        },
        { timeoutMs: delayMs + 10_000, message: 'every retried message back' },
      );
      watching = false;
      await watcher;
      expect(Date.now() - retriedAt).toBeGreaterThanOrEqual(delayMs);
      expect([...back.values()].filter((copies) => copies.length !== 1)).toEqual([]);
      expect([...back.values()].flat().every((delivery) => delivery.attempt === 1)).toBe(true);
      expect(Math.max(...sums)).toBe(keys.length);
      expect(await places()).toEqual([keys.length, 0]);
    });

    it('keeps any JSON payload unchanged through a delayed retry', async () => {
      const queue = open();
      const payload = {
        text: 'Ladesäule ⚡ "quoted" \\ / \u0000 \n',
        big: 2 ** 53 - 1,
        list: [null, 1.5],
      };
      await queue.publish('requests', 'ключ/🔑', payload, { delayMs: 1 });
      const first = await nextFrom(queue);
      expect(await queue.retry('requests', first, 1)).toBe(true);
      const again = await nextFrom(queue);
      expect(again).toMatchObject({ key: 'ключ/🔑', payload, attempt: 1 });
      expect(again.publishedAt).toBe(first.publishedAt);
    });

    it('spreads messages over partitions and still delivers each once', async () => {
      const [a, b] = [open({ partitions: 4 }), open({ partitions: 4 })];
      const keys = Array.from({ length: 200 }, (_, i) => `k${String(i).padStart(3, '0')}`);
      for (const key of keys) await a.publish('requests', key, { key });
      const lengths = await Promise.all([0, 1, 2, 3].map((p) => admin.xlen(streamKey(prefix, p))));
      expect(lengths.every((length) => length > 0)).toBe(true);
      expect(lengths.reduce((sum, length) => sum + length, 0)).toBe(keys.length);

      const seen = new Map<string, number>();
      await Promise.all([drain(a, seen), drain(b, seen), drain(a, seen), drain(b, seen)]);
      expect([...seen.keys()].sort()).toEqual(keys);
      expect([...seen.values()].filter((count) => count !== 1)).toEqual([]);
      expect(await b.depth('requests')).toBe(0);
    });

    it('pages dead letters across partitions oldest first', async () => {
      const queue = open({ partitions: 3 });
      const keys = Array.from({ length: 7 }, (_, i) => `d${i}`);
      for (const key of keys) {
        await queue.publish('requests', key, { key });
        expect(await queue.deadLetter('requests', await nextFrom(queue), 'gone')).toBe(true);
        // Across partitions, order is by millisecond; within one, ties go by partition.
        const at = Date.now();
        await waitFor(() => Date.now() > at, { timeoutMs: 1_000 });
      }
      expect(await pageDeadLetters(queue, 'requests', 2)).toEqual({ keys, pages: 4 });
      expect(await queue.deadLetterCount('requests')).toBe(keys.length);
      expect(await queue.purgeDeadLetters('requests', Date.now() + 1)).toBe(keys.length);
      expect(await queue.deadLetterCount('requests')).toBe(0);
    });

    it('refuses a publish when a partition is full rather than trimming unacked messages', async () => {
      const queue = open({ maxLength: 2 });
      await queue.publish('requests', 'one', {});
      await queue.publish('requests', 'two', {}, { delayMs: 60_000 });
      await expect(queue.publish('requests', 'three', {})).rejects.toMatchObject({
        code: 'BACKLOG_FULL',
      });
      expect(await queue.depth('requests')).toBe(2);
      expect((await nextFrom(queue)).key).toBe('one');
    });

    it('bounds dead letters across partitions by id, ties of one entry id ordered by partition', async () => {
      const queue = open({ partitions: 3 });
      // Letters with equal entry ids in every partition, as Redis could give them in one ms.
      for (const entryId of ['1000-0', '2000-0']) {
        for (const partition of [0, 1, 2]) {
          await admin.xadd(
            `{${prefix}:callbacks:${partition}}:dead`,
            entryId,
            ...['key', `${entryId}/${partition}`, 'payload', '{}', 'attempt', '0'],
            ...['published_at', '1', 'dead_lettered_at', '1', 'reason', 'test'],
          );
        }
      }
      expect(await queue.newestDeadLetterId('callbacks')).toBe('2000-0-2');
      expect((await pageDeadLetters(queue, 'callbacks', 1, '2000-0-1')).keys).toEqual([
        '1000-0/0',
        '1000-0/1',
        '1000-0/2',
        '2000-0/0',
        '2000-0/1',
      ]);
      const first = await queue.listDeadLetters('callbacks', { limit: 10, through: '1000-0-0' });
      expect(first).toEqual({ items: [expect.objectContaining({ key: '1000-0/0' })] });
    });

    it('refuses a hand-off into a full partition and leaves the handled message as it was', async () => {
      const queue = open({ maxLength: 1 });
      await queue.publish('callbacks', 'earlier', {});
      await queue.publish('requests', 'r1', {});
      const request = await nextFrom(queue);
      await expect(
        queue.handOff('requests', request, { topic: 'callbacks', key: 'r1', payload: {} }),
      ).rejects.toMatchObject({ code: 'BACKLOG_FULL' });
      expect([await queue.depth('requests'), await queue.depth('callbacks')]).toEqual([1, 1]);
      // Still leased to its receiver, which can hand it off once there is room.
      expect(await queue.ack('requests', request)).toBe(true);
    });

    it('wakes a receive waiting on one instance when another instance publishes', async () => {
      const [receiver, publisher] = [open(), open()];
      await receiver.receive('requests', { max: 1, leaseMs: 1_000, waitMs: 0 });
      const started = Date.now();
      const waiting = receiver.receive('requests', {
        max: 1,
        leaseMs: LONG_LEASE_MS,
        waitMs: 10_000,
      });
      await publisher.publish('requests', 'from-elsewhere', {});
      expect((await waiting).map((delivery) => delivery.key)).toEqual(['from-elsewhere']);
      expect(Date.now() - started).toBeLessThan(1_000);
    });

    it('resolves a receive blocked in Redis at close, not when its block ends', async () => {
      const queue = open();
      // Ids of connections blocked in XREAD; ours is new. Another process's new one could be
      // taken for ours, but then close meets a receive about to block, which must end as fast.
      const blockedReads = async () => {
        const clients = String(await admin.client('LIST')).split('\n');
        const blocked = clients.filter(
          (line) => /flags=\S*b/.test(line) && /cmd=xread\b/.test(line),
        );
        return new Set(blocked.map((line) => /\bid=(\d+)/.exec(line)?.[1]));
      };
      const before = await blockedReads();
      const waiting = queue.receive('requests', { max: 1, leaseMs: 1_000, waitMs: 10_000 });
      await waitFor(async () => [...(await blockedReads())].some((id) => !before.has(id)), {
        timeoutMs: 5_000,
        message: 'a blocked XREAD',
      });
      const closing = Date.now();
      await queue.close();
      expect(await waiting).toEqual([]);
      expect(Date.now() - closing).toBeLessThan(200);
    });

    it('resolves a receive at close even when close comes before it blocks', async () => {
      const queue = open();
      const started = Date.now();
      const waiting = queue.receive('requests', { max: 1, leaseMs: 1_000, waitMs: 10_000 });
      await queue.close();
      expect(await waiting).toEqual([]);
      expect(Date.now() - started).toBeLessThan(200);
    });

    it('removes its consumer from the group at close unless it still holds messages', async () => {
      const [idle, holding] = [open({ consumerName: 'idle' }), open({ consumerName: 'holding' })];
      await idle.publish('requests', 'done', {});
      expect(await idle.ack('requests', await nextFrom(idle))).toBe(true);
      await holding.publish('requests', 'held', {});
      expect((await nextFrom(holding)).key).toBe('held');
      await Promise.all([idle.close(), holding.close()]);
      const consumers = (await admin.xinfo(
        'CONSUMERS',
        streamKey(prefix),
        'workers',
      )) as unknown[][];
      expect(consumers.map((consumer) => consumer[1])).toEqual(['holding']);
    });
  });
});
