import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { BUSY_TIMEOUT_MS, openSqlite, type Synchronous, settle } from '../lib/sqlite.js';
import { GroupCommit } from '../lib/group-commit.js';
import { loadMigrations } from '../lib/migration-files.js';
import { AppError } from '../lib/errors.js';
import { payloadText, readPayload, toDelivery } from './payload.js';
import { ThreadWakeups } from './thread-wakeups.js';
import type {
  DeadLetter,
  DeadLetterPage,
  Delivery,
  NextMessage,
  Queue,
  ReceiveOptions,
  Topic,
} from './port.js';

/**
 * The embedded-mode queue: one SQLite file in WAL mode, shareable by several processes on one
 * host. Every method is one short statement or transaction behind the async port; the writes
 * of the hot path (publish, ack, retry, release, dead-letter) are group-committed: those asked
 * for in the same turn of the event loop share one transaction (`lib/group-commit.ts`).
 *
 * `available_at` is when a message may next be handed out: its publish time (plus delay), a
 * retry's due time, or the end of its current lease. So one index range answers "what is
 * ready?" for new, delayed and abandoned (receiver crashed) messages alike, and a lease is live
 * exactly while `available_at` is in the future.
 */

export interface SqliteQueueOptions {
  /** Database file, created with its directory when missing. Not the store's file: each keeps
   * its own schema version in `user_version`. */
  file: string;
  /** `normal` survives a crash of the process; `full` also survives power loss, at the cost of
   * an fsync per write. */
  synchronous?: 'normal' | 'full';
  /** How soon a waiting `receive` notices messages published by another process. */
  pollIntervalMs?: number;
  /** Most messages one topic holds before publishes fail with `BACKLOG_FULL`; unset: no cap. */
  maxLength?: number;
}

export interface SqliteQueue extends Queue {
  readonly file: string;
}

/** Cross-process publishes are seen within this; each tick costs one indexed read per waiting
 * receiver, negligible next to an authorization call. Same-process publishes, in any of its
 * threads, wake at once. */
const DEFAULT_POLL_INTERVAL_MS = 25;

/** A topic's size is counted at most this often for its cap; in between, publishes add to
 * the last count. The cap may be overshot by what other processes publish meanwhile. */
const CAP_RECOUNT_MS = 1_000;

/** Bumped with every schema change; a newer file is refused rather than misread. */
const SCHEMA_VERSION = 2;

/** Read once, at module load, from beside this file: the schema as it is now, and the steps
 * that take an older file to it (`migrations/sqlite/NNN-name.sql`, from version 2). */
const SCHEMA = readFileSync(new URL('./sqlite-schema.sql', import.meta.url), 'utf8');
const MIGRATIONS = loadMigrations(new URL('./migrations/sqlite/', import.meta.url), 2);

type MessageRow = { key: string; payload: string; attempt: number; published_at: number };
type DeadLetterRow = MessageRow & { id: number; topic: Topic; dead_lettered_at: number };
type Ref = { topic: Topic; id: number; lease: string };

function toDeadLetter<T>(row: DeadLetterRow & { reason: string }): DeadLetter<T> {
  return {
    id: String(row.id),
    topic: row.topic,
    key: row.key,
    payload: readPayload<T>(row.payload) ?? null,
    attempt: row.attempt,
    publishedAt: row.published_at,
    deadLetteredAt: row.dead_lettered_at,
    reason: row.reason,
  };
}

function openDatabase(file: string, synchronous: Synchronous): Database.Database {
  return openSqlite({
    file,
    synchronous,
    schema: SCHEMA,
    schemaVersion: SCHEMA_VERSION,
    migrations: MIGRATIONS,
    kind: 'queue',
    // Messages carry raw driver tokens; once acked, their bytes must not linger in free pages.
    secureDelete: true,
  });
}

function prepareStatements(db: Database.Database) {
  const leased = 'id = @id AND topic = @topic AND lease_token = @lease';
  const count = (table: string) =>
    db.prepare<[Topic], number>(`SELECT COUNT(*) FROM ${table} WHERE topic = ?`).pluck();
  return {
    publish: db.prepare<MessageRow & { topic: Topic; available_at: number }>(
      `INSERT INTO messages (topic, key, payload, attempt, published_at, available_at)
       VALUES (@topic, @key, @payload, @attempt, @published_at, @available_at)`,
    ),
    hasReady: db.prepare<[Topic, number]>(
      'SELECT 1 FROM messages WHERE topic = ? AND available_at <= ? LIMIT 1',
    ),
    // One statement for the whole batch: it is atomic by itself, and cheaper than a SELECT
    // and an UPDATE per message.
    lease: db.prepare<
      { topic: Topic; now: number; max: number; until: number; lease: string },
      MessageRow & { id: number }
    >(
      `UPDATE messages SET available_at = @until, lease_until = @until, lease_token = @lease
       WHERE id IN (SELECT id FROM messages WHERE topic = @topic AND available_at <= @now
                    ORDER BY available_at, id LIMIT @max)
       RETURNING id, key, payload, attempt, published_at`,
    ),
    retry: db.prepare<Ref & { at: number; counted: number }>(
      `UPDATE messages SET attempt = attempt + @counted, available_at = @at, lease_until = NULL,
       lease_token = NULL WHERE ${leased}`,
    ),
    ack: db.prepare<Ref>(`DELETE FROM messages WHERE ${leased}`),
    takeLeased: db.prepare<Ref, MessageRow>(
      `DELETE FROM messages WHERE ${leased} RETURNING key, payload, attempt, published_at`,
    ),
    addDeadLetter: db.prepare<Omit<DeadLetterRow, 'id'> & { reason: string }>(
      `INSERT INTO dead_letters (topic, key, payload, attempt, published_at, dead_lettered_at, reason)
       VALUES (@topic, @key, @payload, @attempt, @published_at, @dead_lettered_at, @reason)`,
    ),
    oneDeadLetter: db.prepare<[Topic, number], DeadLetterRow & { reason: string }>(
      'SELECT * FROM dead_letters WHERE topic = ? AND id = ?',
    ),
    page: db.prepare<[Topic, number, number, number], DeadLetterRow & { reason: string }>(
      'SELECT * FROM dead_letters WHERE topic = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?',
    ),
    newestDeadLetter: db
      .prepare<[Topic], number | null>('SELECT MAX(id) FROM dead_letters WHERE topic = ?')
      .pluck(),
    takeDeadLetter: db.prepare<[number, Topic], MessageRow>(
      'DELETE FROM dead_letters WHERE id = ? AND topic = ? RETURNING key, payload, attempt, published_at',
    ),
    purge: db.prepare<[Topic, number]>(
      'DELETE FROM dead_letters WHERE topic = ? AND dead_lettered_at < ?',
    ),
    depth: count('messages'),
    deadLetterCount: count('dead_letters'),
    // Ids follow publish order (see SCHEMA), so the topic's smallest id is its oldest message,
    // give or take a publish that waited for another process's lock. MIN(id) reads the topic's
    // range of the ready index (which holds the id), as `depth` does: never another topic's.
    oldest: db
      .prepare<[Topic], number>(
        'SELECT published_at FROM messages WHERE id = (SELECT MIN(id) FROM messages WHERE topic = ?)',
      )
      .pluck(),
    ping: db.prepare('SELECT 1'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** Each runs with `.immediate()` or inside the group commit's IMMEDIATE transaction: the write
 * lock is taken before the first read, so no other connection can change the rows between our
 * SELECT and our write. */
function prepareTransactions(db: Database.Database, sql: Statements) {
  return {
    deadLetter: db.transaction((ref: Ref, reason: string) => {
      const row = sql.takeLeased.get(ref);
      if (row) sql.addDeadLetter.run({ ...row, ...ref, dead_lettered_at: Date.now(), reason });
      return row !== undefined;
    }),
    handOff: db.transaction((ref: Ref, next: MessageRow & { topic: Topic }) => {
      if (sql.ack.run(ref).changes !== 1) return false;
      sql.publish.run({ ...next, available_at: next.published_at });
      return true;
    }),
    replay: db.transaction((id: number, topic: Topic) => {
      const row = sql.takeDeadLetter.get(id, topic);
      const now = Date.now();
      if (row) sql.publish.run({ ...row, topic, attempt: 0, published_at: now, available_at: now });
      return row !== undefined;
    }),
  };
}

/** A message as first stored. */
function newRow(topic: Topic, key: string, payload: unknown): MessageRow & { topic: Topic } {
  return { topic, key, payload: payloadText(payload), attempt: 0, published_at: Date.now() };
}

/** Ids are integers to SQLite; anything else names no message. */
function parseId(id: string): number | null {
  return /^\d{1,15}$/.test(id) ? Number(id) : null;
}

/** A dead-letter page's cursor or bound as given, `absent` when not given; a malformed one
 * throws. */
function pageId(id: string | undefined, absent: number, what: string): number {
  if (id === undefined) return absent;
  const parsed = parseId(id);
  if (parsed === null) throw new RangeError(`Invalid dead-letter ${what}: ${id}`);
  return parsed;
}

function refOf(topic: Topic, delivery: Delivery): Ref | null {
  const id = parseId(delivery.id);
  return id === null ? null : { topic, id, lease: delivery.lease };
}

/** Wakes receives waiting in this thread (`ThreadWakeups` reaches the process's others); other
 * processes' publishes are caught by polling. */
class Waiters {
  readonly #waiting = new Set<{ topic: Topic; wake: () => void }>();

  wait(topic: Topic, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter = {
        topic,
        wake: () => {
          clearTimeout(timer);
          this.#waiting.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, ms);
      this.#waiting.add(waiter);
    });
  }

  /** Wakes the waiters of `topic`, or all of them. */
  notify(topic?: Topic): void {
    for (const waiter of this.#waiting) {
      if (topic === undefined || waiter.topic === topic) waiter.wake();
    }
  }
}

class SqliteQueueAdapter implements SqliteQueue {
  readonly file: string;
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #tx: ReturnType<typeof prepareTransactions>;
  readonly #group: GroupCommit;
  readonly #pollIntervalMs: number;
  readonly #waiters = new Waiters();
  readonly #wakeups: ThreadWakeups;
  readonly #maxLength: number | undefined;
  readonly #sizes = new Map<Topic, { count: number; at: number }>();
  #closed = false;

  constructor(options: SqliteQueueOptions) {
    this.#maxLength = options.maxLength;
    this.file = options.file;
    this.#db = openDatabase(options.file, options.synchronous ?? 'normal');
    this.#sql = prepareStatements(this.#db);
    this.#tx = prepareTransactions(this.#db, this.#sql);
    this.#group = new GroupCommit(this.#db, { lockTimeoutMs: BUSY_TIMEOUT_MS });
    this.#pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    this.#wakeups = new ThreadWakeups(options.file, (topic) => this.#waiters.notify(topic));
  }

  /** Wakes the receives of `topic` waiting in this thread and in the process's others. */
  #ready(topic: Topic): void {
    this.#waiters.notify(topic);
    this.#wakeups.notify(topic);
  }

  async publish(topic: Topic, key: string, payload: unknown, options?: { delayMs?: number }) {
    const row = newRow(topic, key, payload);
    const delayMs = Math.max(0, options?.delayMs ?? 0);
    this.#makeRoom(topic);
    await this.#group.run(() =>
      this.#sql.publish.run({ ...row, available_at: row.published_at + delayMs }),
    );
    // One turn later: the API stores the session right after publishing, and a worker woken at
    // once would read before that write and have to look again (worker.ts, fresh messages).
    // The worker's second look at a message read before its session (worker.ts) covers the
    // other threads, which the wake-up reaches a little later.
    if (delayMs === 0) setImmediate(() => this.#ready(topic));
  }

  /**
   * Counts a message about to be published, or throws `BACKLOG_FULL` when its topic is at the
   * cap (as the Redis queue does): the embedded queue's memory and disk stay bounded when the
   * callbacks of a receiver that is down pile up.
   */
  #makeRoom(topic: Topic): void {
    const cap = this.#maxLength;
    if (cap === undefined) return;
    const now = performance.now();
    let size = this.#sizes.get(topic);
    if (size === undefined || now - size.at > CAP_RECOUNT_MS) {
      size = { count: this.#sql.depth.get(topic) ?? 0, at: now };
      this.#sizes.set(topic, size);
    }
    if (size.count >= cap) {
      throw new AppError(
        'BACKLOG_FULL',
        `${topic}: the queue holds its maximum of ${cap} messages`,
      );
    }
    size.count += 1;
  }

  async handOff(topic: Topic, delivery: Delivery, next: NextMessage) {
    const ref = refOf(topic, delivery);
    if (ref === null) return false;
    const row = newRow(next.topic, next.key, next.payload);
    this.#makeRoom(next.topic);
    const done = await this.#group.run(() => this.#tx.handOff(ref, row));
    if (done) this.#ready(next.topic);
    return done;
  }

  async receive<T>(topic: Topic, options: ReceiveOptions): Promise<Delivery<T>[]> {
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      if (this.#closed) return [];
      const batch = await this.#lease<T>(topic, options.max, options.leaseMs);
      const remaining = deadline - Date.now();
      // Written as !(> 0) so that a NaN waitMs means "do not wait" rather than a spin.
      // Closed meanwhile: its wake-up went out before this receive was waiting.
      if (batch.length > 0 || !(remaining > 0) || this.#closed) return batch;
      await this.#waiters.wait(topic, Math.min(this.#pollIntervalMs, remaining));
    }
  }

  async #lease<T>(topic: Topic, max: number, leaseMs: number): Promise<Delivery<T>[]> {
    const now = Date.now();
    // A plain read first: idle pollers never take the write lock that publishers need.
    if (max < 1 || this.#sql.hasReady.get(topic, now) === undefined) return [];
    // Group-committed with the other writes; one statement, so no other connection can take
    // the same rows between choosing and leasing them.
    const lease = randomUUID();
    // The clock is read when the group runs: a wait for another connection's lock must not
    // come out of the lease.
    const rows = await this.#group.run(() => {
      const at = Date.now();
      return this.#sql.lease.all({ topic, now: at, max, until: at + leaseMs, lease });
    });
    // RETURNING follows no ORDER BY: put the batch back in publish order.
    rows.sort((a, b) => a.id - b.id);
    return rows.map((row) =>
      toDelivery<T>({
        id: String(row.id),
        key: row.key,
        text: row.payload,
        attempt: row.attempt,
        publishedAt: row.published_at,
        lease,
      }),
    );
  }

  async ack(topic: Topic, delivery: Delivery) {
    const ref = refOf(topic, delivery);
    return ref !== null && this.#group.run(() => this.#sql.ack.run(ref).changes === 1);
  }

  retry(topic: Topic, delivery: Delivery, delayMs: number) {
    return this.#putBack(topic, delivery, delayMs, 1);
  }

  release(topic: Topic, delivery: Delivery, delayMs: number) {
    return this.#putBack(topic, delivery, delayMs, 0);
  }

  async #putBack(topic: Topic, delivery: Delivery, delayMs: number, counted: 0 | 1) {
    const ref = refOf(topic, delivery);
    if (ref === null) return false;
    const delay = Math.max(0, delayMs);
    const at = Date.now() + delay;
    const moved = await this.#group.run(
      () => this.#sql.retry.run({ ...ref, at, counted }).changes === 1,
    );
    if (moved && delay === 0) this.#ready(topic);
    return moved;
  }

  async deadLetter(topic: Topic, delivery: Delivery, reason: string) {
    const ref = refOf(topic, delivery);
    return ref !== null && this.#group.run(() => this.#tx.deadLetter(ref, reason));
  }

  listDeadLetters<T>(topic: Topic, page: { limit: number; after?: string; through?: string }) {
    return settle((): DeadLetterPage<T> => {
      const after = pageId(page.after, 0, 'cursor');
      const through = pageId(page.through, Number.MAX_SAFE_INTEGER, 'bound');
      const limit = Math.max(0, Math.floor(page.limit));
      // One extra row tells whether a next page exists without a second query.
      const rows = this.#sql.page.all(topic, after, through, limit + 1);
      const items = rows.slice(0, limit).map((row) => toDeadLetter<T>(row));
      const last = items.at(-1);
      return rows.length > limit && last ? { items, next: last.id } : { items };
    });
  }

  newestDeadLetterId(topic: Topic) {
    return settle(() => {
      const id = this.#sql.newestDeadLetter.get(topic);
      return id === null || id === undefined ? null : String(id);
    });
  }

  getDeadLetter<T>(topic: Topic, deadLetterId: string) {
    return settle((): DeadLetter<T> | null => {
      const id = parseId(deadLetterId);
      const row = id === null ? undefined : this.#sql.oneDeadLetter.get(topic, id);
      return row === undefined ? null : toDeadLetter<T>(row);
    });
  }

  replayDeadLetter(topic: Topic, deadLetterId: string) {
    return settle(() => {
      const id = parseId(deadLetterId);
      const replayed = id !== null && this.#tx.replay.immediate(id, topic);
      if (replayed) this.#ready(topic);
      return replayed;
    });
  }

  purgeDeadLetters(topic: Topic, before: number) {
    return settle(() => this.#sql.purge.run(topic, before).changes);
  }

  depth(topic: Topic) {
    return settle(() => this.#sql.depth.get(topic) ?? 0);
  }

  deadLetterCount(topic: Topic) {
    return settle(() => this.#sql.deadLetterCount.get(topic) ?? 0);
  }

  oldestAgeMs(topic: Topic) {
    return settle(() => {
      const oldest = this.#sql.oldest.get(topic);
      return oldest === undefined ? 0 : Math.max(0, Date.now() - oldest);
    });
  }

  ping() {
    return settle(() => {
      if (this.#closed) throw new Error('The SQLite queue is closed');
      this.#sql.ping.get();
    });
  }

  close() {
    return settle(() => {
      if (this.#closed) return;
      this.#closed = true;
      this.#group.close();
      this.#wakeups.close();
      this.#waiters.notify();
      this.#db.close();
    });
  }
}

/** For `bench/queue-schema.ts`, which times these statements on this schema and the last. */
export { SCHEMA as QUEUE_SCHEMA, prepareStatements as prepareQueueStatements };

export function createSqliteQueue(options: SqliteQueueOptions): SqliteQueue {
  return new SqliteQueueAdapter(options);
}
