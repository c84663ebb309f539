import type { AuthorizationClient } from './client.js';
import type { AuthorizationResult, AuthorizeInput } from './protocols.js';
import { cacheKey, type CachedDecision, type DecisionCache } from './decision-cache.js';

/**
 * The decision cache and the offline policy around the worker's client (docs/authorization.md).
 *
 * - With a TTL, a decision the service gave (`allowed`, `not_allowed`, `invalid`) for a station
 *   and token is reused without a call while younger than the TTL: `decision_source` `cache`.
 * - With the `last_known` policy, when the service could not be asked or did not answer, the
 *   last decision it gave for that station and token is used if it was `allowed` and is younger
 *   than the offline max age: `allowed`, reason and source `offline_last_known`. The failure
 *   has already counted toward the circuit breaker (the client saw it).
 *
 * A cache that fails (Redis down) is a miss: the service is asked, as without a cache.
 */

/** The reasons meaning the service could not be asked or did not answer: timeouts, refused or
 * broken connections, HTTP 5xx, OCPI 3xxx (server errors), an open circuit. Not a bad answer
 * (a 4xx, a malformed body), nor a request past its deadline. */
const OFFLINE_REASONS =
  /^(timeout|connection_refused|connection_reset|connection_error|dns_error|circuit_open|http_5\d\d|ocpi_status_3\d{3})$/;

export const OFFLINE_LAST_KNOWN = 'offline_last_known';

export type CacheOutcome = 'hit' | 'miss';
export type OfflineOutcome = 'last_known' | 'unknown';

export interface CachedClientOptions {
  cache: DecisionCache;
  /** 0: no reuse (the cache then only remembers decisions for the offline policy). */
  ttlMs: number;
  /** Unset: the `unknown` policy (a failure stays `unknown`). */
  offlineMaxAgeMs?: number;
  onCache?: (outcome: CacheOutcome) => void;
  onOffline?: (outcome: OfflineOutcome) => void;
  /** A cache read or write failed; the request went on without it. */
  onCacheError?: (error: unknown) => void;
  /** Told of every final result (metrics). */
  observe?: (result: AuthorizationResult) => void;
}

export function createCachedAuthorizationClient(
  inner: AuthorizationClient,
  options: CachedClientOptions,
): AuthorizationClient {
  const { cache, ttlMs, offlineMaxAgeMs } = options;

  async function read(key: string) {
    try {
      return await cache.get(key);
    } catch (error) {
      options.onCacheError?.(error);
      return null;
    }
  }

  async function remember(key: string, result: AuthorizationResult): Promise<void> {
    if (result.decision === 'unknown') return;
    const entry: CachedDecision = {
      decision: result.decision,
      reason: result.reason,
      details: result.details ?? {
        authorizationReference: null,
        allowedEvses: null,
        displayText: null,
      },
    };
    try {
      await cache.set(key, entry);
    } catch (error) {
      options.onCacheError?.(error);
    }
  }

  /** The last known `allowed`, when the policy is on and the failure is one it covers. */
  async function offline(key: string, failed: AuthorizationResult): Promise<AuthorizationResult> {
    if (offlineMaxAgeMs === undefined || !OFFLINE_REASONS.test(failed.reason)) return failed;
    const known = await read(key);
    if (known === null || known.entry.decision !== 'allowed' || known.ageMs > offlineMaxAgeMs) {
      options.onOffline?.('unknown');
      return failed;
    }
    options.onOffline?.('last_known');
    // No reference nor EVSEs: the eMSP authorized an earlier start, not this one.
    return {
      decision: 'allowed',
      reason: OFFLINE_LAST_KNOWN,
      latencyMs: failed.latencyMs,
      source: 'offline_last_known',
    };
  }

  /** Calls under way per key: requests for a pair that arrive while its call is under way
   * wait for it instead of calling too. */
  const calling = new Map<string, Promise<AuthorizationResult>>();

  /** Asks the service, or waits for the call already asking it about this pair. */
  async function ask(key: string, input: AuthorizeInput): Promise<AuthorizationResult> {
    const under = ttlMs > 0 ? calling.get(key) : undefined;
    if (under !== undefined) {
      const shared = await under;
      if (shared.decision !== 'unknown') {
        const { decision, reason, details } = shared;
        return {
          decision,
          reason,
          ...(details ? { details } : {}),
          latencyMs: null,
          source: 'cache',
        };
      }
    }
    const call = inner.authorize(input);
    calling.set(key, call);
    try {
      return await call;
    } finally {
      if (calling.get(key) === call) calling.delete(key);
    }
  }

  async function decide(input: AuthorizeInput): Promise<AuthorizationResult> {
    if (input.tokenHash === undefined) return inner.authorize(input);
    const key = cacheKey(input.stationId, input.tokenHash);
    if (ttlMs > 0) {
      const found = await read(key);
      if (found !== null && found.ageMs < ttlMs) {
        options.onCache?.('hit');
        const { decision, reason, details } = found.entry;
        return { decision, reason, details, latencyMs: null, source: 'cache' };
      }
    }
    const result = await ask(key, input);
    // A request that waited for another's call made none: a hit too.
    if (ttlMs > 0) options.onCache?.(result.source === 'cache' ? 'hit' : 'miss');
    if (result.source === 'cache') return result;
    if (result.decision !== 'unknown') {
      await remember(key, result);
      return result;
    }
    return offline(key, result);
  }

  return {
    async authorize(input) {
      const result = await decide(input);
      options.observe?.(result);
      return result;
    },
    get inFlight() {
      return inner.inFlight;
    },
    async close() {
      await inner.close();
      await cache.close();
    },
  };
}
