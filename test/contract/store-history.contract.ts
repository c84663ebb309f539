import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  deadLettered,
  HISTORY_LATENCY_BOUNDS_MS,
  type DecisionStore,
  type NewSession,
} from '../../src/store/port.js';

/** The start of the window the history tests read: six buckets of ten seconds. */
const T0 = 1_760_000_000_000;
const BUCKET_MS = 10_000;
const WINDOW = { from: T0, to: T0 + 6 * BUCKET_MS, bucketMs: BUCKET_MS };

/** The histogram index a latency in ms falls in. */
const binOf = (ms: number) => {
  const index = HISTORY_LATENCY_BOUNDS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? HISTORY_LATENCY_BOUNDS_MS.length : index;
};

/**
 * The `history` part of the store contract (`store.contract.ts` runs it against every adapter):
 * what the console's charts read.
 */
export function historyContract(storeOf: () => DecisionStore): void {
  describe('history', () => {
    async function session(acceptedAt: number, extra: Partial<NewSession> = {}): Promise<string> {
      const requestId = randomUUID();
      await storeOf().createSession({
        requestId,
        stationId: randomUUID(),
        tokenHash: 'b'.repeat(64),
        callbackUrl: 'https://client.example/callbacks',
        acceptedAt,
        ...extra,
      });
      return requestId;
    }

    const fail = (attempt: number, startedAt: number) => ({
      attempt,
      startedAt,
      durationMs: 5,
      statusCode: 500,
      error: null,
      responseSnippet: null,
    });

    it('buckets acceptances, decisions, deliveries, retries and dead letters of a window', async () => {
      const store = storeOf();
      const pending = await session(T0 - 5_000);
      const decidedInWindow = await session(T0 - 3_000);
      await store.recordDecision(decidedInWindow, {
        decision: 'allowed',
        reason: 'active',
        authLatencyMs: 8,
        decidedAt: T0 + 2_000,
      });
      const delivered = await session(T0 + 1_000, { startedAt: Date.now() - 40 });
      await store.recordDecision(delivered, {
        decision: 'unknown',
        reason: 'timeout',
        authLatencyMs: 2_500,
        decidedAt: T0 + 15_000,
      });
      await store.recordCallbackAttempt(delivered, fail(1, T0 + 16_000), {
        state: 'retrying',
        at: T0 + 16_005,
        nextAttemptAt: T0 + 21_000,
      });
      await store.recordCallbackAttempt(
        delivered,
        { ...fail(2, T0 + 21_000), statusCode: 204 },
        { state: 'delivered', at: T0 + 21_500 },
      );
      const dead = await session(T0 + 12_000);
      await store.recordDecision(dead, {
        decision: 'not_allowed',
        reason: 'blocked',
        authLatencyMs: 3,
        decidedAt: T0 + 13_000,
      });
      await store.recordCallbackAttempt(dead, fail(1, T0 + 14_000), {
        state: 'retrying',
        at: T0 + 14_005,
        nextAttemptAt: T0 + 25_000,
      });
      await store.recordCallbackAttempt(dead, fail(2, T0 + 25_000), deadLettered(T0 + 25_005));
      await session(T0 + 6 * BUCKET_MS); // after the window

      const history = await store.history(WINDOW);
      expect(history).toMatchObject(WINDOW);
      expect(history.buckets.map((b) => b.start)).toEqual(
        [0, 1, 2, 3, 4, 5].map((i) => T0 + i * BUCKET_MS),
      );
      const [b0, b1, b2, ...rest] = history.buckets;
      expect(b0).toMatchObject({ accepted: 1, delivered: 0, retried: 0, backlog: 2 });
      expect(b0?.decided).toEqual({ allowed: 1, not_allowed: 0, unknown: 0, invalid: 0 });
      expect(b0?.authMs[binOf(8)]).toBe(1);
      expect(b1).toMatchObject({ accepted: 1, backlog: 1 });
      expect(b1?.decided).toEqual({ allowed: 0, not_allowed: 1, unknown: 1, invalid: 0 });
      expect(b1?.authMs[binOf(2_500)]).toBe(1);
      expect(b2).toMatchObject({ accepted: 0, delivered: 1, retried: 2, deadLettered: 1 });
      expect(b2?.callbackMs[binOf(21_500 - 1_000)]).toBe(1);
      expect(b2?.callbackMs.reduce((a, b) => a + b)).toBe(1);
      for (const bucket of rest) {
        expect(bucket).toMatchObject({ accepted: 0, delivered: 0, retried: 0, backlog: 1 });
      }
      // Only the session given `startedAt` has a stored POST → 202 share.
      const acceptMs = history.buckets.flatMap((b) => b.acceptMs).reduce((a, b) => a + b);
      expect(acceptMs).toBe(1);
      expect(pending).toBeTruthy();
    });

    it('stores the time from startedAt to the write as acceptMs', async () => {
      const id = await session(T0, { startedAt: Date.now() - 40 });
      const stored = (await storeOf().getSession(id))?.acceptMs ?? null;
      expect(stored).toBeGreaterThanOrEqual(39);
      expect(stored).toBeLessThan(5_000);
    });

    it('answers an empty window with empty buckets', async () => {
      const history = await storeOf().history({ from: T0, to: T0 + 5_000, bucketMs: 2_000 });
      expect(history.buckets.map((b) => [b.start, b.accepted, b.backlog])).toEqual([
        [T0, 0, 0],
        [T0 + 2_000, 0, 0],
        [T0 + 4_000, 0, 0],
      ]);
    });

    it('refuses a window that is not whole milliseconds or has too many buckets', async () => {
      await expect(storeOf().history({ from: T0, to: T0 + 0.5, bucketMs: 1 })).rejects.toThrow(
        RangeError,
      );
      await expect(storeOf().history({ from: T0, to: T0 + 1e9, bucketMs: 1 })).rejects.toThrow(
        RangeError,
      );
    });
  });
}
