import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { burstFor, createLocalRateLimiter, gcra, type RateLimiter } from '../src/lib/rate-limit.js';
import { createRedisRateLimiter } from '../src/lib/rate-limit-redis.js';
import { REDIS_URL, redisAvailable } from './helpers/servers.js';

const haveRedis = await redisAvailable();

/** Calls `acquire` `count` times from `workers` concurrent loops; returns when each call went. */
async function drive(limiters: RateLimiter[], count: number): Promise<number[]> {
  const times: number[] = [];
  let left = count;
  await Promise.all(
    limiters.flatMap((limiter) =>
      Array.from({ length: 4 }, async () => {
        while (left > 0) {
          left -= 1;
          await limiter.acquire();
          times.push(Date.now());
        }
      }),
    ),
  );
  return times.sort((a, b) => a - b);
}

/**
 * Times are taken where `acquire` resolves, not where the limiter let the call go: on a loaded
 * machine a reply can be held up by tens of ms and land in the next call's second. Allow for
 * that much (the limiter's exact bound is the `gcra` test above); a limiter that did not limit
 * would let every call through in the first second.
 */
const JITTER_MS = 100;
const allowed = (perSecond: number) =>
  perSecond + burstFor(perSecond) + Math.ceil(JITTER_MS / (1_000 / perSecond));

function maxInAnySecond(times: number[]): number {
  return Math.max(...times.map((t, i) => times.filter((u, j) => j >= i && u < t + 1_000).length));
}

describe('rate limiting', () => {
  it('lets a burst of a tenth of a second through at once, then spaces calls by the interval', () => {
    expect(burstFor(100)).toBe(10);
    expect(burstFor(5)).toBe(1);
    let arrival = 0;
    const went: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      const step = gcra(arrival, 0, 10, 10);
      if (step.waitMs === 0) {
        arrival = step.next;
        went.push(i);
      }
    }
    expect(went).toHaveLength(10);
    expect(gcra(arrival, 0, 10, 10).waitMs).toBe(10);
  });

  it('caps one process at its rate', async () => {
    const limiter = createLocalRateLimiter(40);
    const times = await drive([limiter], 100);
    await limiter.close();
    expect(maxInAnySecond(times)).toBeLessThanOrEqual(allowed(40));
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(2_000);
  });

  describe.skipIf(!haveRedis)('shared through Redis', () => {
    it('caps several processes together at one global rate', async () => {
      const key = `chargegate-test:rate:${randomUUID()}`;
      const limiters = [1, 2, 3].map(() =>
        createRedisRateLimiter({ url: REDIS_URL, key, perSecond: 30 }),
      );
      try {
        const times = await drive(limiters, 90);
        expect(maxInAnySecond(times)).toBeLessThanOrEqual(allowed(30));
        expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(2_000);
      } finally {
        await Promise.all(limiters.map((l) => l.close()));
        const redis = new Redis(REDIS_URL);
        await redis.del(key);
        redis.disconnect();
      }
    });
  });
});
