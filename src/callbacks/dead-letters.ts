import { TOPICS, type DeadLetter, type Queue } from '../queue/port.js';
import { unfitCallback, type CallbackMessage } from '../queue/messages.js';
import type { DecisionStore } from '../store/port.js';

/** A dead-lettered callback as operators see it: everything but the driver token. */
export interface DeadLetterView {
  id: string;
  request_id: string;
  station_id: string;
  callback_url: string;
  status: string;
  /** Attempts made in the cycle that ended in this dead letter. */
  attempts: number;
  reason: string;
  dead_lettered_at: string;
}

export interface DeadLetters {
  list(options: {
    limit: number;
    after?: string;
  }): Promise<{ items: DeadLetterView[]; next?: string }>;
  /** Replays one dead letter: the request id it belonged to; `refused` (with the request id)
   * when a replay cannot work; null when there is none. */
  replay(id: string): Promise<{ replayed: string } | Refusal | null>;
  /** Replays every dead letter; how many. */
  replayAll(): Promise<number>;
  /** Deletes dead letters of both topics older than the retention; how many. */
  purgeExpired(): Promise<number>;
}

/**
 * Why a dead letter is not replayed. `DEAD_LETTER_UNREADABLE`: its payload is not JSON, or not
 * a callback message, so it would only be dead-lettered again. `DEAD_LETTER_SESSION_GONE`: its
 * session was deleted (SESSION_RETENTION), so the callback has nothing to be recorded against.
 * Either way it can only be purged.
 */
export interface Refusal {
  refused: 'DEAD_LETTER_UNREADABLE' | 'DEAD_LETTER_SESSION_GONE';
  requestId: string;
}

/** Replay-all reads dead letters in pages of this size, to bound memory. */
const REPLAY_PAGE_SIZE = 500;

/** A letter whose payload is unreadable or not a callback message (its reason says so) shows
 * the fields it lacks empty. */
function view(letter: DeadLetter<CallbackMessage>): DeadLetterView {
  const field = (name: 'station_id' | 'callback_url' | 'status'): string => {
    const value: unknown = (letter.payload as Partial<CallbackMessage> | null)?.[name];
    return typeof value === 'string' ? value : '';
  };
  return {
    id: letter.id,
    request_id: letter.key,
    station_id: field('station_id'),
    callback_url: field('callback_url'),
    status: field('status'),
    attempts: letter.attempt + 1,
    reason: letter.reason,
    dead_lettered_at: new Date(letter.deadLetteredAt).toISOString(),
  };
}

/** A letter that would only be dead-lettered again is not replayed: its payload is not JSON,
 * or not a callback message. (One of a later release is never dead-lettered: it waits.) */
function replayable(letter: DeadLetter<CallbackMessage>): boolean {
  return letter.payload !== null && unfitCallback(letter.payload) === null;
}

/**
 * Operator actions on dead-lettered callbacks, shared by the admin API and the CLI. A replay
 * publishes the same message again (same request id, so the same `webhook-id`) with a fresh
 * retry schedule; the session's callback goes back to `pending` first, so the `GET` never
 * shows `dead_lettered` for a callback that is being retried.
 */
export function createDeadLetters(deps: {
  queue: Queue;
  store: DecisionStore;
  retentionMs: number;
  now?: () => number;
}): DeadLetters {
  const { queue, store, retentionMs } = deps;
  const now = deps.now ?? Date.now;

  async function replayLetter(letter: DeadLetter<CallbackMessage>) {
    const requestId = letter.key;
    if (!replayable(letter)) return { refused: 'DEAD_LETTER_UNREADABLE' as const, requestId };
    if ((await store.getSession(requestId)) === null) {
      return { refused: 'DEAD_LETTER_SESSION_GONE' as const, requestId };
    }
    await store.setCallbackState(requestId, { state: 'pending', at: now(), nextAttemptAt: now() });
    // False: replayed (or purged) by someone else meanwhile. The state is left pending: after a
    // concurrent replay that is right, and which of the two happened cannot be told from here.
    return (await queue.replayDeadLetter('callbacks', letter.id)) ? { replayed: requestId } : null;
  }

  async function replay(id: string) {
    const letter = await queue.getDeadLetter<CallbackMessage>('callbacks', id);
    return letter ? replayLetter(letter) : null;
  }

  return {
    async list(options) {
      const page = await queue.listDeadLetters<CallbackMessage>('callbacks', options);
      return {
        items: page.items.map(view),
        ...(page.next === undefined ? {} : { next: page.next }),
      };
    },
    replay,
    async replayAll() {
      let count = 0;
      // Paged forward from a cursor, so a letter left in place (refused) is not read twice, and
      // only up to the newest letter when the call began: a replayed callback that fails again
      // within this loop comes back as a newer letter, left for the next replay.
      const through = await queue.newestDeadLetterId('callbacks');
      if (through === null) return 0;
      let after: string | undefined;
      do {
        const page = await queue.listDeadLetters<CallbackMessage>('callbacks', {
          limit: REPLAY_PAGE_SIZE,
          through,
          ...(after === undefined ? {} : { after }),
        });
        for (const letter of page.items) {
          const result = await replayLetter(letter);
          if (result !== null && 'replayed' in result) count += 1;
        }
        after = page.next;
      } while (after !== undefined);
      return count;
    },
    async purgeExpired() {
      // Both topics: a request set aside as unfit keeps its raw token too.
      const before = now() - retentionMs;
      let purged = 0;
      for (const topic of TOPICS) purged += await queue.purgeDeadLetters(topic, before);
      return purged;
    },
  };
}
