import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDeadLetters } from '../src/callbacks/dead-letters.js';
import type { CallbackMessage } from '../src/queue/messages.js';
import type { Queue, Topic } from '../src/queue/port.js';
import { createSqliteQueue } from '../src/queue/sqlite.js';
import type { DecisionStore } from '../src/store/port.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import { STATION } from './helpers/client.js';
import { tempDir } from './helpers/service.js';
import { damagePayload } from './helpers/sqlite-damage.js';

describe('dead letters', () => {
  let dir: ReturnType<typeof tempDir>;
  let queue: Queue;
  let store: DecisionStore;

  beforeEach(() => {
    dir = tempDir();
    queue = createSqliteQueue({ file: join(dir.path, 'queue.db') });
    store = createSqliteStore({ file: join(dir.path, 'store.db') });
  });

  afterEach(async () => {
    await queue.close();
    await store.close();
    dir.remove();
  });

  const lettersOn = (now?: () => number) =>
    createDeadLetters({ queue, store, retentionMs: 60_000, ...(now === undefined ? {} : { now }) });

  /** A queued callback, and its session unless `withSession` is false. */
  async function callback(requestId: string, withSession = true): Promise<void> {
    if (withSession) await storeSession(requestId);
    const message: CallbackMessage = {
      v: 1,
      request_id: requestId,
      station_id: STATION,
      driver_token: 'token',
      callback_url: 'https://cpo.example/hooks',
      status: 'allowed',
    };
    await queue.publish('callbacks', requestId, message);
  }

  async function storeSession(requestId: string): Promise<void> {
    await store.createSession({
      requestId,
      stationId: STATION,
      tokenHash: 'hash',
      callbackUrl: 'https://cpo.example/hooks',
      acceptedAt: Date.now(),
    });
  }

  it('with an unreadable payload are listed with empty fields and left in place by replay-all, which replays the rest', async () => {
    await callback('r1');
    await callback('r2');
    await callback('r3');
    const received = await queue.receive('callbacks', { max: 10, leaseMs: 60_000, waitMs: 0 });
    for (const delivery of received) await queue.deadLetter('callbacks', delivery, 'gave up');
    damagePayload(join(dir.path, 'queue.db'), 'dead_letters', 'callbacks', 'r2', '{"v":1');

    const deadLetters = lettersOn();
    const listed = await deadLetters.list({ limit: 10 });
    expect(listed.items.map((item) => [item.request_id, item.status, item.reason])).toEqual([
      ['r1', 'allowed', 'gave up'],
      ['r2', '', 'gave up'],
      ['r3', 'allowed', 'gave up'],
    ]);

    const unreadable = listed.items[1]?.id ?? '';
    expect(await deadLetters.replay(unreadable)).toEqual({
      refused: 'DEAD_LETTER_UNREADABLE',
      requestId: 'r2',
    });
    expect(await deadLetters.replayAll()).toBe(2);
    const left = await deadLetters.list({ limit: 10 });
    expect(left.items.map((item) => item.request_id)).toEqual(['r2']);
    const replayed = await queue.receive('callbacks', { max: 10, leaseMs: 60_000, waitMs: 0 });
    expect(replayed.map((delivery) => delivery.key)).toEqual(['r1', 'r3']);
  });

  it('whose session was deleted (retention) are refused for replay and left for the purge', async () => {
    await callback('r1');
    // Its session is gone: a dead letter kept while SESSION_RETENTION deleted the session.
    await callback('r-gone', false);
    const received = await queue.receive('callbacks', { max: 10, leaseMs: 60_000, waitMs: 0 });
    for (const delivery of received) await queue.deadLetter('callbacks', delivery, 'gave up');
    const deadLetters = lettersOn();
    const { items } = await deadLetters.list({ limit: 10 });
    const gone = items.find((item) => item.request_id === 'r-gone');
    expect(await deadLetters.replay(gone!.id)).toEqual({
      refused: 'DEAD_LETTER_SESSION_GONE',
      requestId: 'r-gone',
    });
    expect(await deadLetters.replayAll()).toBe(1);
    const left = await deadLetters.list({ limit: 10 });
    expect(left.items.map((item) => item.request_id)).toEqual(['r-gone']);
  });

  it('replayed all at once are replayed once each, whatever this clock says against the writer clock: one that fails again meanwhile waits for the next replay', async () => {
    for (const id of ['r1', 'r2', 'r3']) await callback(id);
    const received = await queue.receive('callbacks', { max: 10, leaseMs: 60_000, waitMs: 0 });
    for (const delivery of received) await queue.deadLetter('callbacks', delivery, 'gave up');
    // Each replayed callback fails again at once: its message is dead-lettered anew (a
    // receiver still down, with a short retry schedule).
    let reason = '';
    const replay = queue.replayDeadLetter.bind(queue);
    vi.spyOn(queue, 'replayDeadLetter').mockImplementation(async (topic: Topic, id: string) => {
      if (!(await replay(topic, id))) return false;
      const [again] = await queue.receive(topic, { max: 1, leaseMs: 60_000, waitMs: 0 });
      await queue.deadLetter(topic, again!, reason);
      return true;
    });
    for (const skewMs of [-3_600_000, 3_600_000]) {
      // Its own reason per round: the list shows that every letter was replayed in this one.
      reason = `gave up again, clock ${skewMs} ms off`;
      const letters = createDeadLetters({
        queue,
        store,
        retentionMs: 60_000,
        now: () => Date.now() + skewMs,
      });
      expect(await letters.replayAll()).toBe(3);
      const { items } = await letters.list({ limit: 10 });
      expect(items.map((item) => [item.request_id, item.reason])).toEqual([
        ['r1', reason],
        ['r2', reason],
        ['r3', reason],
      ]);
    }
  });

  it('are purged from both topics once expired: a request set aside keeps its token too', async () => {
    await callback('r1');
    await queue.publish('requests', 'r2', { v: 1, request_id: 'r2', driver_token: 'token' });
    for (const topic of ['callbacks', 'requests'] as const) {
      const [delivery] = await queue.receive(topic, { max: 1, leaseMs: 60_000, waitMs: 0 });
      await queue.deadLetter(topic, delivery!, 'gave up');
    }
    const fresh = lettersOn();
    expect(await fresh.purgeExpired()).toBe(0);
    const expiry = Date.now() + 60_001;
    const later = lettersOn(() => expiry);
    expect(await later.purgeExpired()).toBe(2);
    expect(await queue.deadLetterCount('requests')).toBe(0);
    expect(await queue.deadLetterCount('callbacks')).toBe(0);
  });
});
