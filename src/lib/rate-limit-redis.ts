import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { burstFor, type RateLimiter } from './rate-limit.js';
import { delay } from './time.js';

/**
 * GCRA in Redis: the same algorithm as the local limiter, with the arrival time kept in one
 * key that every worker process shares, so `AUTH_RATE_LIMIT_PER_SEC` is a global cap however
 * many workers run. Redis's own clock is used, so skew between worker hosts does not matter.
 * The script (`lua/gcra.lua`) is read once, at module load, from beside this file.
 */
const GCRA_SCRIPT = readFileSync(new URL('./lua/gcra.lua', import.meta.url), 'utf8');

/** While Redis is unreachable the limiter waits and retries this often rather than letting
 * calls through unlimited: the cap protects the ACL, which matters most when things break. */
const REDIS_RETRY_MS = 250;

export function createRedisRateLimiter(options: {
  url: string;
  key: string;
  perSecond: number;
  onError?: (error: unknown) => void;
}): RateLimiter {
  const redis = new Redis(options.url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    lazyConnect: false,
  });
  redis.defineCommand('gcra', { numberOfKeys: 1, lua: GCRA_SCRIPT });
  const intervalMs = 1_000 / options.perSecond;
  const toleranceMs = (burstFor(options.perSecond) - 1) * intervalMs;
  const stopped = new AbortController();
  const run = (
    redis as unknown as { gcra(key: string, interval: number, tolerance: number): Promise<number> }
  ).gcra.bind(redis);
  return {
    async acquire() {
      while (!stopped.signal.aborted) {
        let waitMs: number;
        try {
          waitMs = await run(options.key, intervalMs, toleranceMs);
        } catch (error) {
          options.onError?.(error);
          waitMs = REDIS_RETRY_MS;
        }
        if (waitMs === 0) return;
        await delay(waitMs, stopped.signal);
      }
    },
    async close() {
      stopped.abort();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
