import type Database from 'better-sqlite3';

/**
 * Group commit for one SQLite connection: writes asked for during one turn of the event loop
 * are run in a single write transaction, and each caller's promise settles only after that
 * transaction has committed. Under load this turns hundreds of commits per second (each a WAL
 * append, a lock round and, with `synchronous = FULL`, an fsync) into one per turn, without
 * weakening anything a caller observes: a write still resolves only once it is durable.
 *
 * A write that throws (a constraint, a bug) is rejected alone while the others commit: a single
 * statement is atomic by itself in SQLite, and a write of several statements must be a
 * better-sqlite3 transaction function, which runs as a savepoint inside the group's
 * transaction. A failed commit rejects them all.
 *
 * When another connection (a worker thread, another process) holds the write lock, the group
 * does not wait in SQLite's busy handler, which sleeps with the event loop blocked (profiles
 * showed the API thread asleep there, and its p99 with it). It tries again on
 * a short timer, serving requests meanwhile, and gives up after `lockTimeoutMs`.
 */
export class GroupCommit {
  readonly #commit: Database.Transaction<(batch: Write[]) => Outcome[]>;
  readonly #db: Database.Database;
  readonly #lockTimeoutMs: number;
  readonly #restoreTimeout: string;
  #pending: Write[] = [];
  #scheduled = false;
  #closed = false;
  /** Set while the group waits for another connection's lock: when it started waiting. */
  #lockedSince: number | null = null;

  constructor(db: Database.Database, options: { lockTimeoutMs: number }) {
    this.#commit = db.transaction((batch: Write[]) => batch.map((write) => this.#attempt(write)));
    this.#db = db;
    this.#lockTimeoutMs = options.lockTimeoutMs;
    this.#restoreTimeout = `PRAGMA busy_timeout = ${Math.floor(options.lockTimeoutMs)}`;
  }

  /**
   * Runs `work` in the next group transaction; resolves with its result once committed. `work`
   * is one statement, or a transaction function (see above), so that it fails atomically.
   */
  run<T>(work: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('The database connection is closed'));
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled && this.#lockedSince === null) {
        this.#scheduled = true;
        // setImmediate, not a microtask: every request parsed in this poll phase joins in.
        setImmediate(() => this.#flushOrWait());
      }
    });
  }

  /**
   * Commits what is pending now, waiting in SQLite's busy handler if the lock is taken, and
   * refuses later writes: called before the connection closes, so nothing is left unsettled.
   */
  close(): void {
    this.#closed = true;
    this.#scheduled = false;
    this.#lockedSince = null;
    const batch = this.#take();
    if (batch.length > 0) this.#settle(batch, this.#tryCommit(batch));
  }

  #flushOrWait(): void {
    this.#scheduled = false;
    const batch = this.#take();
    if (batch.length === 0) return;
    const result = this.#tryCommitWithoutWaiting(batch);
    const waitedMs = this.#lockedSince === null ? 0 : performance.now() - this.#lockedSince;
    if ('failed' in result && isBusy(result.failed) && waitedMs < this.#lockTimeoutMs) {
      // Nothing of the batch was applied: retry it, with whatever joins meanwhile.
      this.#pending = [...batch, ...this.#pending];
      this.#lockedSince ??= performance.now();
      setTimeout(() => this.#flushOrWait(), LOCK_RETRY_MS);
      return;
    }
    this.#lockedSince = null;
    this.#settle(batch, result);
    // Writes that arrived while waiting for the lock go in the next turn.
    if (this.#pending.length > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flushOrWait());
    }
  }

  #take(): Write[] {
    const batch = this.#pending;
    this.#pending = [];
    return batch;
  }

  /** Never throws: a closed connection or a failed commit is a result like any other. */
  #tryCommitWithoutWaiting(batch: Write[]): Outcome[] | { failed: unknown } {
    try {
      // Not prepared once: SQLite applies this pragma when it is prepared, not when it is run.
      // exec() rather than pragma(): no statement object and no result rows, and it runs on
      // every flush.
      this.#db.exec('PRAGMA busy_timeout = 0');
      try {
        return this.#commit.immediate(batch);
      } finally {
        this.#db.exec(this.#restoreTimeout);
      }
    } catch (error) {
      return { failed: error };
    }
  }

  #tryCommit(batch: Write[]): Outcome[] | { failed: unknown } {
    try {
      return this.#commit.immediate(batch);
    } catch (error) {
      return { failed: error };
    }
  }

  #settle(batch: Write[], result: Outcome[] | { failed: unknown }): void {
    if ('failed' in result) {
      for (const write of batch) write.reject(result.failed);
      return;
    }
    result.forEach((outcome, index) => {
      const write = batch[index];
      if (!write) return;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }

  #attempt(write: Write): Outcome {
    try {
      return { ok: true, value: write.work() };
    } catch (error) {
      // Some errors (a full disk, an I/O error) roll back the whole transaction, not just the
      // statement: then nothing of the batch stands, and the writes after this one must not
      // run outside it. Abort the batch; every write in it is rejected.
      if (!this.#db.inTransaction) throw error;
      return { ok: false, error };
    }
  }
}

/** Another connection's commit takes about a millisecond; looking again after one is enough. */
const LOCK_RETRY_MS = 1;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

interface Write {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };
