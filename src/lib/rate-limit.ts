import { delay } from './time.js';
import { gcra } from './gcra.js';

export { gcra };

/**
 * Caps calls to the authorization service per second. `acquire` resolves when a call may
 * start. Implementations: `createLocalRateLimiter` (one process) and, in distributed mode,
 * the Redis one in `rate-limit-redis.ts` (one limit shared by every worker process).
 */
export interface RateLimiter {
  acquire(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The burst a limiter tolerates: a tenth of a second's worth of calls. Enough to absorb timer
 * jitter at high rates; small enough that no one-second window sees more than ~1.1× the rate.
 */
export function burstFor(perSecond: number): number {
  return Math.max(1, Math.floor(perSecond / 10));
}

export function createLocalRateLimiter(
  perSecond: number,
  now: () => number = Date.now,
): RateLimiter {
  const intervalMs = 1_000 / perSecond;
  const burst = burstFor(perSecond);
  let arrival = 0;
  const stopped = new AbortController();
  return {
    async acquire() {
      for (;;) {
        const step = gcra(arrival, now(), intervalMs, burst);
        if (step.waitMs === 0 || stopped.signal.aborted) {
          arrival = step.next;
          return;
        }
        await delay(Math.ceil(step.waitMs), stopped.signal);
      }
    },
    close() {
      stopped.abort();
      return Promise.resolve();
    },
  };
}
