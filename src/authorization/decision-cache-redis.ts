import { Redis } from 'ioredis';
import type { CachedDecision, DecisionCache } from './decision-cache.js';

/**
 * The decision cache in Redis, shared by every worker process (distributed mode): a decision
 * one worker got from the service spares the others their call. Each entry is one key that
 * Redis expires after `retainMs`; its age is read from the time it has left (`PTTL`), on Redis's
 * clock, so skew between worker hosts does not stretch a TTL.
 */
/** The expiry it was given travels with an entry: workers configured otherwise still read its
 * age right. */
interface Stored {
  entry: CachedDecision;
  retainMs: number;
}

export function createRedisDecisionCache(options: {
  url: string;
  /** Prefix of the cache's keys, e.g. `chargegate:authorization-cache`. */
  keyPrefix: string;
  retainMs: number;
  /** A command not answered in this long fails (the lookup counts as a miss). */
  commandTimeoutMs: number;
}): DecisionCache {
  const redis = new Redis(options.url, {
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs,
    // Queued while connecting; while Redis is unreachable a lookup fails within the command
    // timeout, and the service is asked instead.
    enableOfflineQueue: true,
    lazyConnect: false,
  });
  // Reported by the failing commands themselves; unhandled, the event would crash the process.
  redis.on('error', () => {});
  const keyOf = (key: string) => `${options.keyPrefix}:${key}`;
  return {
    async get(key) {
      const replies = await redis.multi().get(keyOf(key)).pttl(keyOf(key)).exec();
      const [value, ttl] = (replies ?? []).map(([error, reply]) => {
        if (error) throw error;
        return reply;
      });
      if (typeof value !== 'string' || typeof ttl !== 'number' || ttl < 0) return null;
      const stored = JSON.parse(value) as Stored;
      return { entry: stored.entry, ageMs: stored.retainMs - ttl };
    },
    async set(key, entry) {
      const stored: Stored = { entry, retainMs: options.retainMs };
      await redis.set(keyOf(key), JSON.stringify(stored), 'PX', options.retainMs);
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
