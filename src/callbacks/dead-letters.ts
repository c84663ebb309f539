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

/** Dead letters of one receiver host (`host:port` as in the URL) that failed the same way. */
export interface DeadLetterGroupView {
  host: string;
  reason: string;
  count: number;
  oldest_at: string;
  newest_at: string;
}

export interface DeadLetterGroups {
  groups: DeadLetterGroupView[];
  /** Groups and letters in all, over every page. */
  total_groups: number;
  total: number;
  /** The newest letter counted: pass it to a replay so that it sends only what was counted. */
  through: string | null;
  /** The `offset` of the next page of groups; absent on the last. */
  next_offset?: number;
}

/** Which dead letters a replay or a listing takes: one host's and reason's, or all. */
export interface DeadLetterFilter {
  host?: string;
  reason?: string;
}

export interface DeadLetters {
  /** A page of letters, oldest first; with a filter, only its letters (`next` may then come
   * with fewer than `limit` items: each call reads a bounded number of letters). */
  list(
    options: { limit: number; after?: string } & DeadLetterFilter,
  ): Promise<{ items: DeadLetterView[]; next?: string }>;
  /** The letters grouped by receiver host and reason, largest group first. */
  groups(options: { limit: number; offset: number }): Promise<DeadLetterGroups>;
  /** Replays the letters of a filter (all when empty), none newer than `through`; how many. */
  replayWhere(filter: DeadLetterFilter, through?: string): Promise<number>;
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

/** A filtered listing reads at most this many letters per call, then answers with `next`. */
const FILTERED_SCAN_LIMIT = 5_000;

/** Grouping keeps at most this many groups in memory; letters of others count in `total` only. */
const MAX_GROUPS = 10_000;

/** One grouping (it reads every letter: about a second per 100,000) is shared by every caller
 * for this long; a replay made here drops it at once. */
const GROUPS_SHARED_MS = 2_000;

interface Grouped {
  all: DeadLetterGroupView[];
  total: number;
  through: string | null;
}

/** A letter's receiver host (`host:port` when a port is given); empty when it has no URL. */
export function receiverHost(callbackUrl: string): string {
  if (callbackUrl === '') return '';
  try {
    return new URL(callbackUrl).host;
  } catch {
    return '';
  }
}

const matches = (view: DeadLetterView, filter: DeadLetterFilter) =>
  (filter.host === undefined || receiverHost(view.callback_url) === filter.host) &&
  (filter.reason === undefined || view.reason === filter.reason);

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

  /** The last grouping, shared by callers for `GROUPS_SHARED_MS`. */
  let shared: { at: number; value: Promise<Grouped> } | null = null;

  async function replayLetter(letter: DeadLetter<CallbackMessage>) {
    const requestId = letter.key;
    if (!replayable(letter)) return { refused: 'DEAD_LETTER_UNREADABLE' as const, requestId };
    if ((await store.getSession(requestId)) === null) {
      return { refused: 'DEAD_LETTER_SESSION_GONE' as const, requestId };
    }
    await store.setCallbackState(requestId, { state: 'pending', at: now(), nextAttemptAt: now() });
    // False: replayed (or purged) by someone else meanwhile. The state is left pending: after a
    // concurrent replay that is right, and which of the two happened cannot be told from here.
    const replayed = await queue.replayDeadLetter('callbacks', letter.id);
    shared = null; // the groups counted before are stale now
    return replayed ? { replayed: requestId } : null;
  }

  async function replay(id: string) {
    const letter = await queue.getDeadLetter<CallbackMessage>('callbacks', id);
    return letter ? replayLetter(letter) : null;
  }

  /** Visits every letter up to `through` (the newest now when absent), oldest first, in pages.
   * Paged forward from a cursor, so a letter left in place (refused) is not read twice, and a
   * replayed callback that fails again meanwhile comes back as a newer letter, not visited. */
  async function walk(
    visit: (letter: DeadLetter<CallbackMessage>) => Promise<void> | void,
    bound?: string,
  ): Promise<string | null> {
    const through = bound ?? (await queue.newestDeadLetterId('callbacks'));
    if (through === null) return null;
    let after: string | undefined;
    do {
      const page = await queue.listDeadLetters<CallbackMessage>('callbacks', {
        limit: REPLAY_PAGE_SIZE,
        through,
        ...(after === undefined ? {} : { after }),
      });
      for (const letter of page.items) await visit(letter);
      after = page.next;
    } while (after !== undefined);
    return through;
  }

  async function replayWhere(filter: DeadLetterFilter, through?: string) {
    let count = 0;
    await walk(async (letter) => {
      if (!matches(view(letter), filter)) return;
      const result = await replayLetter(letter);
      if (result !== null && 'replayed' in result) count += 1;
    }, through);
    return count;
  }

  async function grouped(): Promise<Grouped> {
    const byKey = new Map<string, DeadLetterGroupView>();
    let total = 0;
    const through = await walk((letter) => {
      total += 1;
      const item = view(letter);
      const host = receiverHost(item.callback_url);
      const key = JSON.stringify([host, item.reason]);
      const group = byKey.get(key);
      if (group) {
        group.count += 1;
        group.newest_at = item.dead_lettered_at;
      } else if (byKey.size < MAX_GROUPS) {
        const at = item.dead_lettered_at;
        byKey.set(key, { host, reason: item.reason, count: 1, oldest_at: at, newest_at: at });
      }
    });
    const all = [...byKey.values()].sort(
      (a, b) =>
        b.count - a.count || a.host.localeCompare(b.host) || a.reason.localeCompare(b.reason),
    );
    return { all, total, through };
  }

  async function groups(options: { limit: number; offset: number }): Promise<DeadLetterGroups> {
    if (shared === null || now() - shared.at >= GROUPS_SHARED_MS) {
      const value = grouped();
      shared = { at: now(), value };
      value.catch(() => {
        if (shared?.value === value) shared = null;
      });
    }
    const { all, total, through } = await shared.value;
    const end = options.offset + options.limit;
    return {
      groups: all.slice(options.offset, end),
      total_groups: all.length,
      total,
      through,
      ...(end < all.length ? { next_offset: end } : {}),
    };
  }

  async function listWhere(
    options: { limit: number; after?: string } & DeadLetterFilter,
  ): Promise<{ items: DeadLetterView[]; next?: string }> {
    const items: DeadLetterView[] = [];
    let after = options.after;
    let scanned = 0;
    while (items.length < options.limit && scanned < FILTERED_SCAN_LIMIT) {
      const page = await queue.listDeadLetters<CallbackMessage>('callbacks', {
        limit: REPLAY_PAGE_SIZE,
        ...(after === undefined ? {} : { after }),
      });
      let full = false;
      for (const letter of page.items) {
        scanned += 1;
        after = letter.id;
        const item = view(letter);
        if (matches(item, options)) items.push(item);
        full = items.length === options.limit;
        if (full) break;
      }
      // The last page read whole: nothing is left to page to.
      if (!full && page.next === undefined) return { items };
    }
    return { items, ...(after === undefined ? {} : { next: after }) };
  }

  return {
    async list(options) {
      if (options.host !== undefined || options.reason !== undefined) return listWhere(options);
      const page = await queue.listDeadLetters<CallbackMessage>('callbacks', options);
      return {
        items: page.items.map(view),
        ...(page.next === undefined ? {} : { next: page.next }),
      };
    },
    replay,
    groups,
    replayWhere,
    replayAll: () => replayWhere({}),
    async purgeExpired() {
      // Both topics: a request set aside as unfit keeps its raw token too.
      const before = now() - retentionMs;
      let purged = 0;
      for (const topic of TOPICS) purged += await queue.purgeDeadLetters(topic, before);
      return purged;
    },
  };
}
