import type { DecisionStore } from './port.js';
import { delay } from '../lib/time.js';

/** Sessions deleted per statement: each batch is one short write, so the API's writes are never
 * held up for long, even when a month of history expires at once after an upgrade. */
export const PURGE_BATCH = 1_000;

/** The pause after a full batch: the writers that wait for each batch's lock get whole turns
 * in between, and 10 batches a second still purge far faster than sessions are accepted. */
const PURGE_PAUSE_MS = 100;

/**
 * Deletes every finished session whose last activity is older than `retentionMs`, a batch at a
 * time, until none is left or `stopped()`; returns how many.
 */
export async function purgeExpiredSessions(
  store: DecisionStore,
  options: {
    retentionMs: number;
    now?: () => number;
    stopped?: () => boolean;
    pauseMs?: number;
  },
): Promise<number> {
  const before = (options.now ?? Date.now)() - options.retentionMs;
  let purged = 0;
  while (!(options.stopped?.() ?? false)) {
    const deleted = await store.purgeFinishedSessions(before, PURGE_BATCH);
    purged += deleted;
    if (deleted < PURGE_BATCH) break;
    await delay(options.pauseMs ?? PURGE_PAUSE_MS);
  }
  return purged;
}
