import { LruMap } from '../lib/lru.js';
import type { AuthorizationDetails } from '../store/port.js';
import type { AclStatus } from '../contract/authorization.js';

/**
 * Where the worker keeps the authorization service's recent decisions, per station and token
 * (docs/authorization.md, "Decision cache" and "Offline policy"). One entry serves both: it is
 * reused without a call while younger than `AUTH_CACHE_TTL`, and, under the `last_known`
 * offline policy, stands in for an `allowed` while younger than `AUTH_OFFLINE_MAX_AGE`.
 * Implementations: the bounded in-memory one here (embedded mode, one process) and the Redis
 * one in `decision-cache-redis.ts` (distributed mode, shared by every worker).
 *
 * Only decisions the service gave are stored; `unknown` never is.
 */
export interface CachedDecision {
  decision: AclStatus;
  reason: string;
  details: AuthorizationDetails;
}

export interface DecisionCache {
  /** The entry and its age in ms, or null when there is none (or it has expired). */
  get(key: string): Promise<{ entry: CachedDecision; ageMs: number } | null>;
  /** Stores the entry as of now, replacing any older one. */
  set(key: string, entry: CachedDecision): Promise<void>;
  close(): Promise<void>;
}

/** The key of a station and a token: the token's keyed hash, never the token. */
export function cacheKey(stationId: string, tokenHash: string): string {
  return `${stationId.toLowerCase()}:${tokenHash}`;
}

/**
 * Entries an embedded worker keeps at most: about 400 bytes each, so 40 MB at worst, far more
 * station-and-token pairs than one site sees within a TTL or a day; past it, the least
 * recently used pair is forgotten (its next request asks the service).
 */
export const MEMORY_CACHE_MAX_ENTRIES = 100_000;

/** `retainMs`: how long an entry is kept (the longer of the TTL and the offline max age). */
export function createMemoryDecisionCache(options: {
  retainMs: number;
  maxEntries?: number;
  now?: () => number;
}): DecisionCache {
  const now = options.now ?? Date.now;
  const entries = new LruMap<string, { entry: CachedDecision; storedAt: number }>(
    options.maxEntries ?? MEMORY_CACHE_MAX_ENTRIES,
  );
  return {
    get(key) {
      const found = entries.get(key);
      if (found === undefined) return Promise.resolve(null);
      const ageMs = now() - found.storedAt;
      if (ageMs >= options.retainMs) {
        entries.delete(key);
        return Promise.resolve(null);
      }
      return Promise.resolve({ entry: found.entry, ageMs });
    },
    set(key, entry) {
      entries.set(key, { entry, storedAt: now() });
      return Promise.resolve();
    },
    close() {
      return Promise.resolve();
    },
  };
}
