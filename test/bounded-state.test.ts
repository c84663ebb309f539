import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { HostLimiter } from '../src/callbacks/host-limiter.js';
import { createDnsLookup } from '../src/callbacks/resolver.js';
import { createMetrics } from '../src/lib/metrics.js';
import { registerQueueGauges } from '../src/queue/metrics.js';
import { createSqliteQueue } from '../src/queue/sqlite.js';
import type { Queue } from '../src/queue/port.js';
import { tempDir } from './helpers/service.js';

const BOUNDS = { minDeferMs: 1_000, maxDeferMs: 10_000 };

describe('state that stays bounded', () => {
  it('forgets idle hosts whose attempts timed out, however many there were', () => {
    // Regression: every host whose attempts took longer than a second stayed for ever
    // (200,000 such hosts held 62 MB).
    const limiter = new HostLimiter(32, BOUNDS, 128);
    let now = 0;
    for (let i = 0; i < 200_000; i += 1) {
      const host = `https://receiver-${i}.example`;
      const slot = limiter.tryAcquire(host, now);
      expect(slot).not.toBeNull();
      now += 10_000;
      limiter.release(host, slot!, now, true);
    }
    expect(limiter.trackedHosts).toBeLessThanOrEqual(10_000);
  });

  it('keeps a quarter of the slots for hosts that hold almost none', () => {
    const limiter = new HostLimiter(4, BOUNDS, 8);
    const take = (host: string) => limiter.tryAcquire(host, 0) !== null;
    expect([1, 2, 3, 4].map(() => take('https://a.example'))).toEqual([true, true, true, true]);
    expect([1, 2, 3].map(() => take('https://b.example'))).toEqual([true, true, false]);
    expect(take('https://healthy.example')).toBe(true);
    expect(take('https://other.example')).toBe(true);
  });

  it('gives a host whose attempts keep timing out an eighth of its limit until one is answered', () => {
    const limiter = new HostLimiter(16, BOUNDS, 128);
    const host = 'https://hanging.example';
    for (let i = 0; i < 2; i += 1)
      limiter.release(host, limiter.tryAcquire(host, i)!, i + 10, true);
    expect(limiter.isPenalized(host)).toBe(true);
    const held = Array.from({ length: 5 }, (_, i) => limiter.tryAcquire(host, 100 + i));
    expect(held.filter((slot) => slot !== null)).toHaveLength(2);
    limiter.release(host, held[0]!, 200, false);
    expect(limiter.isPenalized(host)).toBe(false);
  });

  it('caps the embedded queue like the Redis one: BACKLOG_FULL past its length', async () => {
    const dir = tempDir();
    const queue = createSqliteQueue({ file: join(dir.path, 'queue.db'), maxLength: 3 });
    try {
      for (let i = 0; i < 3; i += 1) await queue.publish('callbacks', `c${i}`, { n: i });
      await expect(queue.publish('callbacks', 'c3', { n: 3 })).rejects.toMatchObject({
        code: 'BACKLOG_FULL',
      });
      expect(await queue.depth('callbacks')).toBe(3);
      // A full topic does not stop the other one.
      await queue.publish('requests', 'r0', { n: 0 });
      const [request] = await queue.receive('requests', { max: 1, leaseMs: 10_000, waitMs: 0 });
      await expect(
        queue.handOff('requests', request!, { topic: 'callbacks', key: 'c4', payload: {} }),
      ).rejects.toMatchObject({ code: 'BACKLOG_FULL' });
    } finally {
      await queue.close();
      dir.remove();
    }
  });
});

describe('/metrics under load and with a stalled queue', () => {
  function countingQueue(answer: () => Promise<number>) {
    const calls = { count: 0 };
    const read = () => {
      calls.count += 1;
      return answer();
    };
    const queue = { depth: read, oldestAgeMs: read, deadLetterCount: read } as unknown as Queue;
    return { queue, calls };
  }

  it('counts the queue once for many concurrent scrapes', async () => {
    // Regression: every scrape counted the queue on the API thread; 40 at once with 600k
    // callbacks queued moved /health/live from 1.5 ms to 1.5 s.
    const { queue, calls } = countingQueue(() => Promise.resolve(5));
    const metrics = createMetrics();
    registerQueueGauges(metrics, queue);
    const texts = await Promise.all(Array.from({ length: 40 }, () => metrics.registry.metrics()));
    expect(texts[0]).toContain('chargegate_queue_depth{topic="requests"} 5');
    // Three readings per topic, once.
    expect(calls.count).toBe(6);
  });

  it('answers at once with the last counts when the queue does not answer', async () => {
    let stalled = false;
    const { queue } = countingQueue(() =>
      stalled ? new Promise<number>(() => {}) : Promise.resolve(7),
    );
    const metrics = createMetrics();
    registerQueueGauges(metrics, queue);
    await metrics.registry.metrics();
    stalled = true;
    const startedAt = performance.now();
    const text = await metrics.registry.metrics();
    expect(performance.now() - startedAt).toBeLessThan(500);
    expect(text).toContain('chargegate_queue_depth{topic="requests"} 7');
    // Never read at all: the first scrape waits a bounded time, then answers without them.
    const fresh = createMetrics();
    registerQueueGauges(fresh, queue);
    const first = performance.now();
    await fresh.registry.metrics();
    expect(performance.now() - first).toBeLessThan(3_000);
  });
});

describe('callback DNS resolution', () => {
  it('does not hold libuv threads: file reads go on while every lookup waits on a silent DNS server', async () => {
    // A DNS server that never answers.
    const silent = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
    const { port } = silent.address();
    const { lookup } = createDnsLookup({ servers: [`127.0.0.1:${port}`], timeoutMs: 1_000 });
    try {
      // Twice the thread pool's four threads: with dns.lookup these would block every file read.
      const lookups = Array.from(
        { length: 8 },
        (_, i) =>
          new Promise<unknown>((resolve) =>
            lookup(`slow-${i}.example`, { all: true }, (error) => resolve(error)),
          ),
      );
      const readAt = performance.now();
      await readFile(new URL(import.meta.url));
      const readMs = performance.now() - readAt;
      const errors = await Promise.all(lookups);
      expect(readMs).toBeLessThan(500);
      for (const error of errors) expect(error).toBeInstanceOf(Error);
    } finally {
      silent.close();
    }
  }, 20_000);
});
