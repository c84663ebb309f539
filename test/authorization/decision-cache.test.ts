import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAuthorizationClient,
  type AuthorizationClient,
} from '../../src/authorization/client.js';
import { CircuitBreaker } from '../../src/lib/circuit-breaker.js';
import {
  createCachedAuthorizationClient,
  type CacheOutcome,
  type OfflineOutcome,
} from '../../src/authorization/cached-client.js';
import {
  createMemoryDecisionCache,
  type DecisionCache,
} from '../../src/authorization/decision-cache.js';
import { createRedisDecisionCache } from '../../src/authorization/decision-cache-redis.js';
import { startScriptedServer, type Reply, type ScriptedServer } from '../helpers/http.js';
import { STATION } from '../helpers/client.js';
import { deleteRedisKeys, REDIS_URL, redisAvailable } from '../helpers/servers.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'DEMO-ALLOWED-0001-abcdefgh';
const TOKEN_HASH = 'f'.repeat(64);
const answer = (status: string, reason: string): Reply => ({
  status: 200,
  body: JSON.stringify({ status, reason }),
});
const ALLOWED = answer('allowed', 'active');

const haveRedis = await redisAvailable();

/** A closed service: refused, or reset on a connection kept alive from before. */
const DOWN: unknown = expect.stringMatching(/^connection_(refused|reset)$/);

interface Worker {
  client: AuthorizationClient;
  cacheOutcomes: CacheOutcome[];
  offlineOutcomes: OfflineOutcome[];
}

describe('decision cache and offline policy', () => {
  let acl: ScriptedServer;
  let aclUrl: string;
  let clock: number;
  const workers: Worker[] = [];

  /** A worker's client behind a cache; `cache` defaults to a fresh in-memory one. */
  function worker(options: {
    ttlMs: number;
    offlineMaxAgeMs?: number;
    cache?: DecisionCache;
    failureThreshold?: number;
  }): Worker {
    const inner = createAuthorizationClient({
      url: aclUrl,
      timeoutMs: 1_000,
      maxInFlight: 4,
      breaker: new CircuitBreaker({
        failureThreshold: options.failureThreshold ?? 100,
        openMs: 60_000,
      }),
    });
    const cacheOutcomes: CacheOutcome[] = [];
    const offlineOutcomes: OfflineOutcome[] = [];
    const retainMs = Math.max(options.ttlMs, options.offlineMaxAgeMs ?? 0);
    const client = createCachedAuthorizationClient(inner, {
      cache: options.cache ?? createMemoryDecisionCache({ retainMs, now: () => clock }),
      ttlMs: options.ttlMs,
      ...(options.offlineMaxAgeMs === undefined
        ? {}
        : { offlineMaxAgeMs: options.offlineMaxAgeMs }),
      onCache: (outcome) => cacheOutcomes.push(outcome),
      onOffline: (outcome) => offlineOutcomes.push(outcome),
    });
    const made = { client, cacheOutcomes, offlineOutcomes };
    workers.push(made);
    return made;
  }

  const decide = (w: Worker, stationId = STATION, tokenHash = TOKEN_HASH) =>
    w.client.authorize({
      requestId: randomUUID(),
      stationId,
      driverToken: TOKEN,
      tokenHash,
    });

  beforeEach(async () => {
    clock = 1_750_000_000_000;
    acl = await startScriptedServer(() => ALLOWED);
    aclUrl = `${acl.url}/authorize`;
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.client.close()));
    await acl.close();
  });

  describe('embedded (in memory)', () => {
    it('answers many requests for one station and token within the TTL with one call', async () => {
      const w = worker({ ttlMs: 15_000 });
      const first = await decide(w);
      expect(first).toMatchObject({ decision: 'allowed', reason: 'active' });
      expect(first.source).toBeUndefined();
      for (let i = 0; i < 20; i += 1) {
        clock += 500;
        expect(await decide(w)).toMatchObject({
          decision: 'allowed',
          reason: 'active',
          source: 'cache',
          latencyMs: null,
        });
      }
      expect(acl.requests).toHaveLength(1);
      expect(w.cacheOutcomes.filter((o) => o === 'hit')).toHaveLength(20);
      expect(w.cacheOutcomes.filter((o) => o === 'miss')).toHaveLength(1);
    });

    it('makes one call for requests that arrive together, before the first answer', async () => {
      const w = worker({ ttlMs: 15_000 });
      let release: () => void = () => {};
      const answered = new Promise<void>((resolve) => (release = resolve));
      acl.script = async () => {
        await answered;
        return ALLOWED;
      };
      const together = Array.from({ length: 10 }, () => decide(w));
      await waitFor(() => acl.requests.length === 1, { message: 'the first call' });
      release();
      const results = await Promise.all(together);
      expect(results.map((r) => r.decision)).toEqual(Array(10).fill('allowed'));
      expect(results.filter((r) => r.source === 'cache')).toHaveLength(9);
      expect(acl.requests).toHaveLength(1);
      expect(w.cacheOutcomes.filter((o) => o === 'hit')).toHaveLength(9);
    });

    it('asks again once the TTL has passed, and for another station or token', async () => {
      const w = worker({ ttlMs: 15_000 });
      await decide(w);
      await decide(w, randomUUID());
      await decide(w, STATION, 'e'.repeat(64));
      expect(acl.requests).toHaveLength(3);
      clock += 15_000;
      expect((await decide(w)).source).toBeUndefined();
      expect(acl.requests).toHaveLength(4);
    });

    it('reuses not_allowed and invalid decisions too', async () => {
      acl.script = () => answer('not_allowed', 'blocked');
      const w = worker({ ttlMs: 15_000 });
      await decide(w);
      expect(await decide(w)).toMatchObject({ decision: 'not_allowed', reason: 'blocked' });
      acl.script = () => answer('invalid', 'unknown_token');
      const other = randomUUID();
      await decide(w, other);
      expect(await decide(w, other)).toMatchObject({ decision: 'invalid', source: 'cache' });
      expect(acl.requests).toHaveLength(2);
    });

    it('never caches unknown', async () => {
      acl.script = () => ({ status: 503, body: '' });
      const w = worker({ ttlMs: 15_000 });
      expect(await decide(w)).toMatchObject({ decision: 'unknown', reason: 'http_503' });
      expect(await decide(w)).toMatchObject({ decision: 'unknown', reason: 'http_503' });
      expect(acl.requests).toHaveLength(2);
    });

    it('forgets the least recently used pairs past its bound', async () => {
      const cache = createMemoryDecisionCache({ retainMs: 60_000, maxEntries: 2 });
      const w = worker({ ttlMs: 60_000, cache });
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      for (const station of [a, b, a, c]) await decide(w, station);
      expect(acl.requests).toHaveLength(3);
      await decide(w, a);
      expect(acl.requests).toHaveLength(3);
      await decide(w, b);
      expect(acl.requests).toHaveLength(4);
    });
  });

  describe.skipIf(!haveRedis)('distributed (Redis)', () => {
    const prefix = `chargegate-test-${randomUUID()}`;
    const redisCache = (ttlMs: number) =>
      createRedisDecisionCache({
        url: REDIS_URL,
        keyPrefix: `${prefix}:authorization-cache`,
        retainMs: ttlMs,
        commandTimeoutMs: 2_000,
      });

    afterEach(() => deleteRedisKeys(REDIS_URL, prefix));

    it('shares decisions between workers: many requests within the TTL make one call', async () => {
      const workersOf = [0, 1, 2].map(() => worker({ ttlMs: 60_000, cache: redisCache(60_000) }));
      await decide(workersOf[0]!);
      for (let i = 0; i < 30; i += 1) {
        expect(await decide(workersOf[i % 3]!)).toMatchObject({
          decision: 'allowed',
          source: 'cache',
        });
      }
      expect(acl.requests).toHaveLength(1);
    });

    it('asks again once the TTL has passed, and never caches unknown', async () => {
      const w = worker({ ttlMs: 300, cache: redisCache(300) });
      await decide(w);
      expect((await decide(w)).source).toBe('cache');
      await waitFor(async () => (await decide(w)).source !== 'cache', {
        timeoutMs: 5_000,
        message: 'a call once the TTL has passed',
      });
      expect(acl.requests).toHaveLength(2);

      acl.script = () => ({ status: 500, body: '' });
      const other = randomUUID();
      await decide(w, other);
      await decide(w, other);
      expect(acl.requests).toHaveLength(4);
    });

    it('asks the service when Redis cannot be reached', async () => {
      const cache = createRedisDecisionCache({
        url: 'redis://127.0.0.1:1',
        keyPrefix: prefix,
        retainMs: 60_000,
        commandTimeoutMs: 200,
      });
      const w = worker({ ttlMs: 60_000, cache });
      expect(await decide(w)).toMatchObject({ decision: 'allowed', reason: 'active' });
      expect(await decide(w)).toMatchObject({ decision: 'allowed', reason: 'active' });
      expect(acl.requests).toHaveLength(2);
    });
  });

  describe('offline policy last_known', () => {
    const HOUR = 3_600_000;

    it('allows, marked offline_last_known, a token allowed in the last hour while the service is down', async () => {
      const w = worker({ ttlMs: 0, offlineMaxAgeMs: 24 * HOUR });
      expect(await decide(w)).toMatchObject({ decision: 'allowed', reason: 'active' });
      await acl.close();
      clock += HOUR - 1_000;
      expect(await decide(w)).toMatchObject({
        decision: 'allowed',
        reason: 'offline_last_known',
        source: 'offline_last_known',
      });
      expect(w.offlineOutcomes).toEqual(['last_known']);
    });

    it('keeps unknown for a token never seen, one last refused, or one seen too long ago', async () => {
      const w = worker({ ttlMs: 0, offlineMaxAgeMs: HOUR });
      const [allowed, blocked] = [randomUUID(), randomUUID()];
      await decide(w, allowed);
      acl.script = () => answer('not_allowed', 'blocked');
      await decide(w, blocked);
      await acl.close();
      expect(await decide(w, randomUUID())).toMatchObject({
        decision: 'unknown',
        reason: DOWN,
      });
      expect(await decide(w, blocked)).toMatchObject({ decision: 'unknown' });
      clock += HOUR + 1;
      expect(await decide(w, allowed)).toMatchObject({ decision: 'unknown' });
      expect(w.offlineOutcomes).toEqual(['unknown', 'unknown', 'unknown']);
    });

    it('covers timeouts, HTTP 5xx and an open circuit, but not a bad answer', async () => {
      const w = worker({ ttlMs: 0, offlineMaxAgeMs: HOUR, failureThreshold: 2 });
      await decide(w);
      acl.script = () => ({ status: 502, body: '' });
      expect((await decide(w)).reason).toBe('offline_last_known');
      acl.script = () => 'hang';
      expect((await decide(w)).reason).toBe('offline_last_known');
      // Both failures counted toward the breaker: it is open now, and no call is made.
      const calls = acl.requests.length;
      expect((await decide(w)).reason).toBe('offline_last_known');
      expect(acl.requests).toHaveLength(calls);

      const fresh = worker({ ttlMs: 0, offlineMaxAgeMs: HOUR });
      acl.script = () => ALLOWED;
      await decide(fresh);
      acl.script = () => ({ status: 400, body: '' });
      expect(await decide(fresh)).toMatchObject({ decision: 'unknown', reason: 'http_400' });
      acl.script = () => ({ status: 200, body: 'nonsense' });
      expect(await decide(fresh)).toMatchObject({ decision: 'unknown', reason: 'malformed_body' });
    });

    it('changes nothing under the default policy: the service down is unknown', async () => {
      const w = worker({ ttlMs: 15_000 });
      await decide(w, STATION);
      await acl.close();
      expect(await decide(w, randomUUID())).toMatchObject({
        decision: 'unknown',
        reason: DOWN,
      });
      expect(w.offlineOutcomes).toEqual([]);
    });
  });
});
