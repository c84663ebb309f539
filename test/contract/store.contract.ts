import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SessionTooLateError,
  type CallbackAttempt,
  type DecisionStore,
  type NewSession,
} from '../../src/store/port.js';
import { uuidv7 } from '../../src/lib/ids.js';
import { historyContract } from './store-history.contract.js';

/**
 * The decision store port's contract (src/store/port.ts), run against every adapter. An
 * adapter's test file calls `storeContract` with a factory that returns a fresh, empty store
 * per test and a `cleanup` that releases it.
 */
export interface StoreFixture {
  store: DecisionStore;
  cleanup: () => Promise<void>;
}

const ACCEPTED_AT = 1_750_000_000_000;

function newSession(overrides: Partial<NewSession> = {}): NewSession {
  return {
    requestId: randomUUID(),
    stationId: randomUUID(),
    tokenHash: 'a'.repeat(64),
    callbackUrl: 'https://client.example/callbacks',
    acceptedAt: ACCEPTED_AT,
    ...overrides,
  };
}

function attempt(n: number, overrides: Partial<CallbackAttempt> = {}): CallbackAttempt {
  return {
    attempt: n,
    startedAt: ACCEPTED_AT + n * 1_000,
    durationMs: 12,
    statusCode: 503,
    error: null,
    responseSnippet: 'busy',
    ...overrides,
  };
}

const DECIDED = {
  decision: 'allowed',
  reason: 'active',
  authLatencyMs: 8,
  decidedAt: ACCEPTED_AT + 50,
} as const;

export function storeContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`${name} decision store (port contract)`, () => {
    let store: DecisionStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(() => cleanup());

    describe('sessions', () => {
      it('stores a new session as pending and reads it back', async () => {
        const session = newSession({ idempotencyKey: 'key-1', requestHash: 'h1' });
        expect(await store.createSession(session)).toEqual({ created: true });
        expect(await store.getSession(session.requestId)).toEqual({
          requestId: session.requestId,
          stationId: session.stationId,
          tokenHash: session.tokenHash,
          callbackUrl: session.callbackUrl,
          acceptedAt: ACCEPTED_AT,
          acceptMs: null,
          idempotencyKey: 'key-1',
          clientId: null,
          decision: 'pending',
          reason: null,
          authLatencyMs: null,
          decidedAt: null,
          decisionSource: null,
          details: { authorizationReference: null, allowedEvses: null, displayText: null },
          callback: {
            state: 'pending',
            attempts: 0,
            lastAttemptAt: null,
            deliveredAt: null,
            nextAttemptAt: null,
          },
        });
        expect(await store.listCallbackAttempts(session.requestId)).toEqual([]);
      });

      it('keeps the client that made a request', async () => {
        const session = newSession({ clientId: 'client-7' });
        await store.createSession(session);
        expect((await store.getSession(session.requestId))?.clientId).toBe('client-7');
      });

      it('stores a session whose write runs before its accept deadline', async () => {
        const session = newSession({ acceptBy: Date.now() + 60_000 });
        expect(await store.createSession(session)).toEqual({ created: true });
        expect((await store.getSession(session.requestId))?.decision).toBe('pending');
      });

      it('refuses, storing nothing, a session whose write runs after its accept deadline', async () => {
        for (const session of [
          newSession({ acceptBy: Date.now() - 1_000 }),
          newSession({ acceptBy: Date.now() - 1_000, idempotencyKey: 'late', requestHash: 'h' }),
        ]) {
          await expect(store.createSession(session)).rejects.toBeInstanceOf(SessionTooLateError);
          expect(await store.getSession(session.requestId)).toBeNull();
        }
        expect(await store.findByIdempotencyKey('late')).toBeNull();
      });

      it('returns null for an unknown request id', async () => {
        expect(await store.getSession(randomUUID())).toBeNull();
        expect(await store.listCallbackAttempts(randomUUID())).toEqual([]);
      });
    });

    describe('idempotency keys', () => {
      it('returns the existing session when the idempotency key is taken, and stores nothing', async () => {
        const first = newSession({ idempotencyKey: 'key-1', requestHash: 'h1' });
        const second = newSession({ idempotencyKey: 'key-1', requestHash: 'h2' });
        await store.createSession(first);
        expect(await store.createSession(second)).toEqual({
          created: false,
          existing: { requestId: first.requestId, requestHash: 'h1' },
        });
        expect(await store.getSession(second.requestId)).toBeNull();
        expect(await store.findByIdempotencyKey('key-1')).toEqual({
          requestId: first.requestId,
          requestHash: 'h1',
        });
        expect(await store.findByIdempotencyKey('key-2')).toBeNull();
      });

      it('lets sessions without an idempotency key coexist', async () => {
        const one = newSession();
        const two = newSession();
        expect(await store.createSession(one)).toEqual({ created: true });
        expect(await store.createSession(two)).toEqual({ created: true });
        expect((await store.getSession(two.requestId))?.idempotencyKey).toBeNull();
      });

      it('lets the first of several concurrent creates with one key win, whatever the ids', async () => {
        // Request ids in descending order: a store that reordered a batch by id would pick the last.
        const contenders = Array.from({ length: 8 }, (_, i) =>
          newSession({
            requestId: `${(15 - i).toString(16).repeat(8)}-0000-4000-8000-000000000000`,
            idempotencyKey: 'race',
          }),
        );
        const results = await Promise.all(contenders.map((s) => store.createSession(s)));
        const winners = contenders.filter((_, i) => results[i]?.created === true);
        expect(winners.map((w) => w.requestId)).toEqual([contenders[0]?.requestId]);
        for (const result of results.slice(1)) {
          expect(result).toMatchObject({ existing: { requestId: contenders[0]?.requestId } });
        }
      });
    });

    describe('decisions', () => {
      it('keeps the first decision and refuses later ones', async () => {
        const session = newSession();
        await store.createSession(session);
        expect(await store.recordDecision(session.requestId, DECIDED)).toBe(true);
        const flip = {
          decision: 'not_allowed',
          reason: 'blocked',
          authLatencyMs: 3,
          decidedAt: 9,
        } as const;
        expect(await store.recordDecision(session.requestId, flip)).toBe(false);
        expect(await store.getSession(session.requestId)).toMatchObject({
          decision: 'allowed',
          reason: 'active',
          authLatencyMs: 8,
          decidedAt: ACCEPTED_AT + 50,
        });
      });

      it('stores an unknown decision without latency', async () => {
        const session = newSession();
        await store.createSession(session);
        const timeout = { decision: 'unknown', reason: 'timeout', authLatencyMs: null } as const;
        await store.recordDecision(session.requestId, { ...timeout, decidedAt: ACCEPTED_AT + 5 });
        expect(await store.getSession(session.requestId)).toMatchObject(timeout);
      });

      it('stores where a decision came from and what the service returned with it', async () => {
        const session = newSession();
        await store.createSession(session);
        const details = {
          authorizationReference: 'auth-ref-0001',
          allowedEvses: ['NL*CPO*E1', 'NL*CPO*E2'],
          displayText: { language: 'nl', text: 'Veel plezier – “laden”' },
        };
        await store.recordDecision(session.requestId, { ...DECIDED, source: 'cache', details });
        expect(await store.getSession(session.requestId)).toMatchObject({
          decision: 'allowed',
          decisionSource: 'cache',
          details,
        });
      });

      it('says a decision came from the service, without details, when not told otherwise', async () => {
        const session = newSession();
        await store.createSession(session);
        expect((await store.getSession(session.requestId))?.decisionSource).toBeNull();
        await store.recordDecision(session.requestId, DECIDED);
        expect(await store.getSession(session.requestId)).toMatchObject({
          decisionSource: 'service',
          details: { authorizationReference: null, allowedEvses: null, displayText: null },
        });
      });

      it('marks a decision allowed offline as such', async () => {
        const session = newSession();
        await store.createSession(session);
        const offline = { decision: 'allowed', reason: 'offline_last_known' } as const;
        await store.recordDecision(session.requestId, {
          ...DECIDED,
          ...offline,
          source: 'offline_last_known',
        });
        expect(await store.getSession(session.requestId)).toMatchObject({
          ...offline,
          decisionSource: 'offline_last_known',
        });
      });

      it('refuses a decision for an unknown session', async () => {
        expect(await store.recordDecision(randomUUID(), DECIDED)).toBe(false);
      });
    });

    // Adapters may run the calls of one event-loop turn as one statement or transaction: each
    // caller must still get its own outcome, and a bad call must fail alone.
    describe('calls made together', () => {
      it('stores, reads and decides many sessions at once, each with its own answer', async () => {
        const sessions = Array.from({ length: 40 }, (_, i) =>
          newSession({ acceptedAt: ACCEPTED_AT + i }),
        );
        expect(await Promise.all(sessions.map((s) => store.createSession(s)))).toEqual(
          sessions.map(() => ({ created: true })),
        );
        const missing = randomUUID();
        const ids = [...sessions.map((s) => s.requestId), missing, sessions[0]!.requestId];
        const read = await Promise.all(ids.map((id) => store.getSession(id)));
        expect(read.map((r) => r?.acceptedAt ?? null)).toEqual([
          ...sessions.map((s) => s.acceptedAt),
          null,
          ACCEPTED_AT,
        ]);
        const decided = await Promise.all(
          sessions.map((s, i) =>
            store.recordDecision(s.requestId, { ...DECIDED, authLatencyMs: i }),
          ),
        );
        expect(decided.every(Boolean)).toBe(true);
        const after = await Promise.all(sessions.map((s) => store.getSession(s.requestId)));
        expect(after.map((r) => r?.authLatencyMs)).toEqual(sessions.map((_, i) => i));
      });

      it('answers each create of a mixed turn: new keys, a taken key, a repeated key, no key', async () => {
        const taken = newSession({ idempotencyKey: 'taken', requestHash: 'h0' });
        await store.createSession(taken);
        const fresh = [1, 2, 3].map((i) =>
          newSession({ idempotencyKey: `fresh-${i}`, requestHash: `h${i}` }),
        );
        const twice = [
          newSession({ idempotencyKey: 'twice' }),
          newSession({ idempotencyKey: 'twice' }),
        ];
        const keyless = newSession();
        const results = await Promise.all([
          ...fresh.map((s) => store.createSession(s)),
          store.createSession(newSession({ idempotencyKey: 'taken', requestHash: 'other' })),
          ...twice.map((s) => store.createSession(s)),
          store.createSession(keyless),
        ]);
        expect(results.slice(0, 3)).toEqual(fresh.map(() => ({ created: true })));
        expect(results[3]).toEqual({
          created: false,
          existing: { requestId: taken.requestId, requestHash: 'h0' },
        });
        expect(results.slice(4, 6).filter((r) => r.created)).toHaveLength(1);
        expect(results[6]).toEqual({ created: true });
        for (const session of [...fresh, keyless]) {
          expect(await store.getSession(session.requestId)).toMatchObject({ decision: 'pending' });
        }
      });

      it('applies exactly one of two decisions made at once for the same request', async () => {
        const session = newSession();
        await store.createSession(session);
        const other = newSession();
        await store.createSession(other);
        const flip = { ...DECIDED, decision: 'not_allowed', reason: 'blocked' } as const;
        const [first, second, third] = await Promise.all([
          store.recordDecision(session.requestId, DECIDED),
          store.recordDecision(other.requestId, DECIDED),
          store.recordDecision(session.requestId, flip),
        ]);
        expect(second).toBe(true);
        expect([first, third].filter(Boolean)).toHaveLength(1);
        const stored = await store.getSession(session.requestId);
        expect(stored?.decision).toBe(first ? 'allowed' : 'not_allowed');
      });

      it('records attempts made at once, in call order, for one request and for several', async () => {
        const [one, two] = [newSession(), newSession()];
        await Promise.all([store.createSession(one), store.createSession(two)]);
        const first = attempt(1);
        const second = attempt(2, { statusCode: 204, responseSnippet: '' });
        const late = attempt(3, { statusCode: 500 });
        const other = attempt(1, { statusCode: 204, responseSnippet: '' });
        await Promise.all([
          store.recordCallbackAttempt(one.requestId, first, {
            state: 'retrying',
            at: 1,
            nextAttemptAt: 7,
          }),
          store.recordCallbackAttempt(two.requestId, other, { state: 'delivered', at: 5 }),
          store.recordCallbackAttempt(one.requestId, second, { state: 'delivered', at: 9 }),
          // After `delivered` in the same turn: ignored, as it would be a turn later.
          store.recordCallbackAttempt(one.requestId, late, {
            state: 'retrying',
            at: 10,
            nextAttemptAt: 20,
          }),
        ]);
        expect(await store.listCallbackAttempts(one.requestId)).toEqual([first, second]);
        expect((await store.getSession(one.requestId))?.callback).toEqual({
          state: 'delivered',
          attempts: 2,
          lastAttemptAt: second.startedAt,
          deliveredAt: 9,
          nextAttemptAt: null,
        });
        expect(await store.listCallbackAttempts(two.requestId)).toEqual([other]);
        expect((await store.getSession(two.requestId))?.callback).toMatchObject({
          state: 'delivered',
          attempts: 1,
        });
      });

      it('keeps an earlier decision and terminal state when later calls come together', async () => {
        const [decided, fresh] = [newSession(), newSession()];
        await Promise.all([store.createSession(decided), store.createSession(fresh)]);
        await store.recordDecision(decided.requestId, DECIDED);
        const flip = { ...DECIDED, decision: 'not_allowed', reason: 'blocked' } as const;
        expect(
          await Promise.all([
            store.recordDecision(decided.requestId, flip),
            store.recordDecision(fresh.requestId, flip),
          ]),
        ).toEqual([false, true]);
        expect(await store.getSession(decided.requestId)).toMatchObject({ decision: 'allowed' });
        const final = attempt(1, { statusCode: 204, responseSnippet: '' });
        await store.recordCallbackAttempt(decided.requestId, final, { state: 'delivered', at: 5 });
        const retry = { state: 'retrying', at: 6, nextAttemptAt: 9 } as const;
        await Promise.all([
          store.recordCallbackAttempt(decided.requestId, attempt(2), retry),
          store.recordCallbackAttempt(fresh.requestId, attempt(1), retry),
        ]);
        expect(await store.listCallbackAttempts(decided.requestId)).toEqual([final]);
        expect((await store.getSession(decided.requestId))?.callback).toMatchObject({
          state: 'delivered',
          attempts: 1,
        });
        expect((await store.getSession(fresh.requestId))?.callback).toMatchObject({
          state: 'retrying',
          attempts: 1,
          nextAttemptAt: 9,
        });
      });

      it('fails only the bad call of several made at once', async () => {
        const taken = newSession();
        await store.createSession(taken);
        const fine = [newSession(), newSession()];
        const results = await Promise.allSettled([
          store.createSession(fine[0]!),
          // The same request id again: a primary-key violation.
          store.createSession({ ...newSession(), requestId: taken.requestId }),
          store.createSession(fine[1]!),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
        for (const session of fine) {
          expect(await store.getSession(session.requestId)).toMatchObject({ decision: 'pending' });
        }
        const bad = { ...DECIDED, decision: 'maybe' } as unknown as typeof DECIDED;
        const decisions = await Promise.allSettled([
          store.recordDecision(fine[0]!.requestId, DECIDED),
          store.recordDecision(fine[1]!.requestId, bad),
        ]);
        expect(decisions.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
        expect(await store.getSession(fine[0]!.requestId)).toMatchObject({ decision: 'allowed' });
        expect(await store.getSession(fine[1]!.requestId)).toMatchObject({ decision: 'pending' });
      });
    });

    describe('callbacks', () => {
      async function decidedSession(): Promise<string> {
        const session = newSession();
        await store.createSession(session);
        await store.recordDecision(session.requestId, DECIDED);
        return session.requestId;
      }

      it('records callback attempts oldest first and counts them', async () => {
        const id = await decidedSession();
        const first = attempt(1);
        const second = attempt(2, {
          statusCode: null,
          error: 'CALLBACK_TIMEOUT',
          responseSnippet: null,
        });
        const third = attempt(3, { statusCode: 204, responseSnippet: '' });
        await store.recordCallbackAttempt(id, first, {
          state: 'retrying',
          at: 1,
          nextAttemptAt: 7,
        });
        let session = await store.getSession(id);
        expect(session?.callback).toEqual({
          state: 'retrying',
          attempts: 1,
          lastAttemptAt: first.startedAt,
          deliveredAt: null,
          nextAttemptAt: 7,
        });
        await store.recordCallbackAttempt(id, second, {
          state: 'retrying',
          at: 2,
          nextAttemptAt: 8,
        });
        await store.recordCallbackAttempt(id, third, {
          state: 'delivered',
          at: third.startedAt + 9,
        });
        expect(await store.listCallbackAttempts(id)).toEqual([first, second, third]);
        session = await store.getSession(id);
        expect(session?.callback).toEqual({
          state: 'delivered',
          attempts: 3,
          lastAttemptAt: third.startedAt,
          deliveredAt: third.startedAt + 9,
          nextAttemptAt: null,
        });
      });

      for (const terminal of ['delivered', 'gone'] as const) {
        it(`ignores later attempts and state changes once a callback is ${terminal}`, async () => {
          const id = await decidedSession();
          const final = attempt(1, { statusCode: terminal === 'gone' ? 410 : 200 });
          await store.recordCallbackAttempt(id, final, { state: terminal, at: final.startedAt });
          const settled = await store.getSession(id);

          const late = attempt(2, { startedAt: final.startedAt + 5 });
          await store.recordCallbackAttempt(id, late, {
            state: 'retrying',
            at: 9,
            nextAttemptAt: 10,
          });
          await store.setCallbackState(id, { state: 'dead_lettered', at: 11 });
          await store.setCallbackState(id, { state: 'pending', at: 12 });

          expect(await store.getSession(id)).toEqual(settled);
          expect(settled?.callback).toMatchObject({ state: terminal, attempts: 1 });
          expect(await store.listCallbackAttempts(id)).toEqual([final]);
        });
      }

      it('lets a dead-lettered callback be replayed and then delivered', async () => {
        const id = await decidedSession();
        await store.recordCallbackAttempt(id, attempt(1), { state: 'dead_lettered', at: 1 });
        expect((await store.getSession(id))?.callback.state).toBe('dead_lettered');
        await store.setCallbackState(id, { state: 'pending', at: 2 });
        expect((await store.getSession(id))?.callback.state).toBe('pending');
        const ok = attempt(2, { statusCode: 200 });
        await store.recordCallbackAttempt(id, ok, { state: 'delivered', at: 3 });
        expect((await store.getSession(id))?.callback).toMatchObject({
          state: 'delivered',
          attempts: 2,
          deliveredAt: 3,
        });
      });
    });

    describe('retention', () => {
      const DAY = 86_400_000;
      const now = ACCEPTED_AT + 60 * DAY;
      const before = now - 30 * DAY;

      /** A session accepted `ageDays` before `now` (its id made then, as the API makes it),
       * with one attempt that left its callback in `state`, or none. */
      async function aged(
        ageDays: number,
        state?: 'delivered' | 'gone' | 'dead_lettered' | 'retrying',
        attemptDaysAgo = ageDays,
      ): Promise<string> {
        const acceptedAt = now - ageDays * DAY;
        const session = newSession({ requestId: uuidv7(acceptedAt), acceptedAt });
        await store.createSession(session);
        await store.recordDecision(session.requestId, { ...DECIDED, decidedAt: acceptedAt + 5 });
        if (state !== undefined) {
          const tried = attempt(1, { startedAt: now - attemptDaysAgo * DAY + 1_000 });
          await store.recordCallbackAttempt(session.requestId, tried, { state, at: acceptedAt });
        }
        return session.requestId;
      }

      it('counts age from the last attempt, else from acceptance', async () => {
        const recentAttempt = await aged(40, 'dead_lettered', 2);
        const setAside = await aged(40);
        // Dead-lettered without an attempt (a message this release cannot handle).
        await store.setCallbackState(setAside, { state: 'dead_lettered', at: now - 40 * DAY });
        expect(await store.purgeFinishedSessions(before, 100)).toBe(1);
        expect(await store.getSession(recentAttempt)).not.toBeNull();
        expect(await store.getSession(setAside)).toBeNull();
      });

      it('deletes finished sessions older than the retention with their attempts, and only those', async () => {
        const expired = [
          await aged(40, 'delivered'),
          await aged(35, 'gone'),
          await aged(31, 'dead_lettered'),
        ];
        const kept = [
          await aged(40, 'retrying'),
          await aged(40),
          await aged(29, 'delivered'),
          await aged(1, 'dead_lettered'),
        ];
        expect(await store.purgeFinishedSessions(before, 100)).toBe(3);
        for (const id of expired) {
          expect(await store.getSession(id)).toBeNull();
          expect(await store.listCallbackAttempts(id)).toEqual([]);
        }
        for (const id of kept) expect(await store.getSession(id)).not.toBeNull();
        expect(await store.listCallbackAttempts(kept[0]!)).toHaveLength(1);
        expect(await store.purgeFinishedSessions(before, 100)).toBe(0);
      });

      it('deletes at most the limit at a time, oldest first', async () => {
        // Made newest first, so that the order of the deletions is not the order of the writes.
        const newest = await aged(40, 'gone');
        const middle = await aged(45, 'delivered');
        const oldest = await aged(50, 'delivered');
        expect(await store.purgeFinishedSessions(before, 2)).toBe(2);
        expect(await store.getSession(oldest)).toBeNull();
        expect(await store.getSession(middle)).toBeNull();
        expect(await store.getSession(newest)).not.toBeNull();
        expect(await store.purgeFinishedSessions(before, 2)).toBe(1);
      });
    });

    historyContract(() => store);

    it('answers ping while open', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
