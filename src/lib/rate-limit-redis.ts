import { Redis } from 'ioredis';
import { burstFor, type RateLimiter } from './rate-limit.js';
import { delay } from './time.js';

/**
 * GCRA in Redis: the same algorithm as the local limiter, with the arrival time kept in one
 * key that every worker process shares, so `AUTH_RATE_LIMIT_PER_SEC` is a global cap however
 * many workers run. Redis's own clock is used, so skew between worker hosts does not matter.
 * Returns 0 when the call may go, otherwise the milliseconds to wait.
 */
const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allowed_at = tat - tolerance
if now < allowed_at then return math.ceil(allowed_at - now) end
local next = tat + interval
redis.call('SET', KEYS[1], tostring(next), 'PX', math.ceil(next - now + tolerance) + 1000)
return 0
`;

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
