import { describe, expect, it } from 'vitest';
import { uuidv7, uuidv7Floor } from '../src/lib/ids.js';
import type { DecisionStore } from '../src/store/port.js';
import { PURGE_BATCH, purgeExpiredSessions } from '../src/store/retention.js';

describe('session retention', () => {
  it('bounds ids by time: made before the millisecond sorts lower, at or after it higher', () => {
    const at = Date.UTC(2026, 10, 21, 12, 0, 0);
    const floor = uuidv7Floor(at);
    for (let i = 0; i < 200; i += 1) {
      expect(uuidv7(at - 1) < floor).toBe(true);
      expect(uuidv7(at) > floor).toBe(true);
      expect(uuidv7(at + 86_400_000) > floor).toBe(true);
    }
    expect(uuidv7Floor(0)).toBe('00000000-0000-0000-0000-000000000000');
  });

  /** A store that reports each purge call and deletes what `batches` says. */
  function purging(batches: number[]) {
    const calls: { before: number; limit: number }[] = [];
    const store = {
      purgeFinishedSessions: (before: number, limit: number) => {
        calls.push({ before, limit });
        return Promise.resolve(batches.shift() ?? 0);
      },
    } as unknown as DecisionStore;
    return { store, calls };
  }

  it('purges in batches until one comes back short, with one cut-off time', async () => {
    const { store, calls } = purging([PURGE_BATCH, PURGE_BATCH, 3]);
    const purged = await purgeExpiredSessions(store, {
      retentionMs: 1_000,
      now: () => 50_000,
      pauseMs: 0,
    });
    expect(purged).toBe(2 * PURGE_BATCH + 3);
    expect(calls).toEqual([
      { before: 49_000, limit: PURGE_BATCH },
      { before: 49_000, limit: PURGE_BATCH },
      { before: 49_000, limit: PURGE_BATCH },
    ]);
  });

  it('stops between batches when told to (the worker is stopping)', async () => {
    const { store, calls } = purging([PURGE_BATCH, PURGE_BATCH, PURGE_BATCH]);
    let stop = false;
    const purged = await purgeExpiredSessions(store, {
      retentionMs: 0,
      pauseMs: 0,
      stopped: () => {
        const now = stop;
        stop = true;
        return now;
      },
    });
    expect(purged).toBe(PURGE_BATCH);
    expect(calls).toHaveLength(1);
  });
});
