/**
 * The decision store port: where each accepted request, its authorization decision and its
 * callback's delivery history are persisted. The core depends on this file only; adapters
 * live beside it (`sqlite.ts`, `postgres.ts`) and are opened by `wiring/adapters.ts`.
 *
 * Guarantees every adapter must give (checked by `test/contract/store.contract.ts`):
 *
 * - **Durable writes.** Every method that writes resolves only once the write survives a crash
 *   of the calling process.
 * - **Idempotency keys are unique.** Two sessions never share an idempotency key, even when
 *   created concurrently from several processes; the loser gets the winner back.
 * - **First decision wins.** `recordDecision` on a session that is already decided changes
 *   nothing and returns `false`, so a redelivered request can never flip a decision.
 * - **Terminal callback states stick.** Once a callback is `delivered` or `gone`, later
 *   attempts or state changes for it are ignored, so a late duplicate attempt cannot undo a
 *   delivery.
 * - **No raw driver token.** The store only ever receives the token's keyed hash.
 */

/** The four-value decision of the authorization contract (docs/authorization.md). */
export type Decision = 'allowed' | 'not_allowed' | 'unknown' | 'invalid';

export const DECISIONS: readonly Decision[] = ['allowed', 'not_allowed', 'unknown', 'invalid'];

/**
 * Where a decision came from: the authorization service (`unknown` included, when it could not
 * give one), the decision cache, or the offline policy's last known decision
 * (docs/authorization.md).
 */
export type DecisionSource = 'service' | 'cache' | 'offline_last_known';

export const DECISION_SOURCES: readonly DecisionSource[] = [
  'service',
  'cache',
  'offline_last_known',
];

/** A text for the driver that the authorization service gave with its decision (OCPI). */
export interface DisplayText {
  /** ISO 639-1 language code. */
  language: string;
  text: string;
}

/** What an OCPI authorization service returns beside its decision; all null otherwise. */
export interface AuthorizationDetails {
  /** The eMSP's reference for this authorization, to carry into the session and its CDR. */
  authorizationReference: string | null;
  /** The EVSEs of the station the driver may charge at, when the service names them. */
  allowedEvses: string[] | null;
  displayText: DisplayText | null;
}

export const NO_DETAILS: AuthorizationDetails = {
  authorizationReference: null,
  allowedEvses: null,
  displayText: null,
};

/**
 * Where a request's callback stands.
 * - `pending`: not attempted yet (or the decision is not made yet).
 * - `retrying`: at least one attempt failed; another is scheduled.
 * - `delivered`: the receiver answered 2xx.
 * - `gone`: the receiver answered 410; no further attempts.
 * - `dead_lettered`: the retry schedule is exhausted; an operator may replay it.
 */
export type CallbackState = 'pending' | 'retrying' | 'delivered' | 'gone' | 'dead_lettered';

/** The states that end a callback's story: later attempts and state changes are ignored. */
export const TERMINAL_CALLBACK_STATES: readonly CallbackState[] = ['delivered', 'gone'];

/** A session whose callback is in one of these is finished: retention may delete it. A dead
 * letter can still be replayed, but its session is kept no longer than the letter. */
export const FINISHED_CALLBACK_STATES: readonly CallbackState[] = [
  ...TERMINAL_CALLBACK_STATES,
  'dead_lettered',
];

export interface NewSession {
  requestId: string;
  stationId: string;
  /** Keyed hash of the driver token (never the token). */
  tokenHash: string;
  callbackUrl: string;
  /** ms since epoch. */
  acceptedAt: number;
  idempotencyKey?: string;
  /** Keyed hash of the request body, to tell a replay from a reused key. */
  requestHash?: string;
  /**
   * ms since epoch: the session is stored only by a write that runs no later than this, else
   * `createSession` rejects with `SessionTooLateError` and nothing is stored. The API gives up
   * on a request at this point and answers `503`; a write held up in a stalled server or
   * network and run after it must not store a request whose client was refused.
   */
  acceptBy?: number;
  /** The API client that made the request (its id), when clients are configured. */
  clientId?: string;
  /**
   * ms since epoch: when the API began accepting this request. The adapter stores the time
   * from it to the moment its write runs (`acceptMs`), the stored share of POST → `202`.
   */
  startedAt?: number;
}

/** `createSession` ran after the session's `acceptBy`: nothing was stored. */
export class SessionTooLateError extends Error {
  constructor(readonly requestId: string) {
    super(`Session ${requestId} was not stored: its write ran after the accept deadline`);
    this.name = 'SessionTooLateError';
  }
}

export function tooLate(requestId: string): SessionTooLateError {
  return new SessionTooLateError(requestId);
}

export interface CallbackAttempt {
  /** 1 for the first attempt. */
  attempt: number;
  startedAt: number;
  durationMs: number;
  /** HTTP status of the receiver's answer; null when there was none. */
  statusCode: number | null;
  /** Stable error code when the attempt failed without an answer (e.g. `CALLBACK_TIMEOUT`). */
  error: string | null;
  /** The first bytes of the receiver's answer, for debugging. */
  responseSnippet: string | null;
}

export interface SessionRecord {
  requestId: string;
  stationId: string;
  tokenHash: string;
  callbackUrl: string;
  acceptedAt: number;
  /** ms from `startedAt` to the session's write; null when it was not given. */
  acceptMs: number | null;
  idempotencyKey: string | null;
  /** The API client that made the request; null without clients. */
  clientId: string | null;
  decision: Decision | 'pending';
  /** Raw reason next to the decision: `blocked`, `timeout`, `http_503`, … */
  reason: string | null;
  authLatencyMs: number | null;
  decidedAt: number | null;
  /** Null while pending. */
  decisionSource: DecisionSource | null;
  details: AuthorizationDetails;
  callback: {
    state: CallbackState;
    attempts: number;
    lastAttemptAt: number | null;
    deliveredAt: number | null;
    /** When the next attempt is due, while `retrying`. */
    nextAttemptAt: number | null;
  };
}

export type CreateSessionResult =
  | { created: true }
  | { created: false; existing: { requestId: string; requestHash: string | null } };

export interface DecisionInput {
  decision: Decision;
  reason: string;
  authLatencyMs: number | null;
  decidedAt: number;
  /** Default `service`. */
  source?: DecisionSource;
  /** Default: none (`NO_DETAILS`). */
  details?: AuthorizationDetails;
}

export interface CallbackStateUpdate {
  state: CallbackState;
  at: number;
  nextAttemptAt?: number | null;
}

/** The move to `dead_lettered`: no attempt is scheduled until an operator replays it. */
export function deadLettered(at: number): CallbackStateUpdate {
  return { state: 'dead_lettered', at, nextAttemptAt: null };
}

/**
 * Upper bounds (ms) of the history's latency histograms, 1-2-5 steps from 1 ms to an hour: a
 * quantile read from them is exact to its bucket (as Prometheus' `histogram_quantile`). Every
 * histogram has one more count, for values above the last bound.
 */
export const HISTORY_LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000,
  3_600_000,
];

/** A window `[from, to)` cut into buckets of `bucketMs` starting at `from` (ms since epoch). */
export interface HistoryQuery {
  from: number;
  to: number;
  bucketMs: number;
}

/** What the store saw happen in one bucket; latencies are counts per bound (not cumulative). */
export interface HistoryBucket {
  /** The bucket is `[start, start + bucketMs)`, the last one cut at `to`. */
  start: number;
  /** Sessions accepted (by `acceptedAt`), and their `acceptMs` where stored. */
  accepted: number;
  acceptMs: number[];
  /** Decisions made (by `decidedAt`), and their authorization latency. */
  decided: Record<Decision, number>;
  authMs: number[];
  /** Callbacks delivered (by `deliveredAt`), and the time from acceptance to delivery. */
  delivered: number;
  callbackMs: number[];
  /** Callback attempts after the first (by their start). */
  retried: number;
  /** Callbacks now dead-lettered, by their last attempt (else acceptance). */
  deadLettered: number;
  /** Sessions accepted and not yet decided at the bucket's end. */
  backlog: number;
}

export interface StoreHistory extends HistoryQuery {
  buckets: HistoryBucket[];
}

export interface DecisionStore {
  /**
   * Stores a newly accepted request with decision `pending`. When its idempotency key is
   * already taken, stores nothing and returns the existing session's id and request hash.
   */
  createSession(session: NewSession): Promise<CreateSessionResult>;

  /** The session holding this idempotency key, if any. */
  findByIdempotencyKey(
    key: string,
  ): Promise<{ requestId: string; requestHash: string | null } | null>;

  getSession(requestId: string): Promise<SessionRecord | null>;

  /** Callback attempts of a session, oldest first. */
  listCallbackAttempts(requestId: string): Promise<CallbackAttempt[]>;

  /** Sets the decision of a pending session. `false` when already decided or unknown. */
  recordDecision(requestId: string, decision: DecisionInput): Promise<boolean>;

  /**
   * Appends a callback attempt and moves the callback to `update.state`, in one write.
   * Ignored when the callback is already `delivered` or `gone`.
   */
  recordCallbackAttempt(
    requestId: string,
    attempt: CallbackAttempt,
    update: CallbackStateUpdate,
  ): Promise<void>;

  /** Moves the callback state without an attempt (dead-lettering, replay). Same stickiness. */
  setCallbackState(requestId: string, update: CallbackStateUpdate): Promise<void>;

  /**
   * Deletes at most `limit` finished sessions (callback `delivered`, `gone` or `dead_lettered`)
   * whose last activity (last callback attempt, else acceptance) is older than `before`, with
   * their attempts; returns how many. A session still deciding or calling back is kept,
   * whatever its age. Request ids are UUIDv7 (time-ordered), which the adapters use to find
   * old sessions by their primary key.
   */
  purgeFinishedSessions(before: number, limit: number): Promise<number>;

  /**
   * What happened in a window, bucketed: read from the sessions and attempts kept (retention
   * deletes finished ones), so every process that shares the store sees the same history.
   * Served by indexes on the timestamps read; the cost grows with the rows inside the window.
   */
  history(query: HistoryQuery): Promise<StoreHistory>;

  /** Throws when the store cannot serve (used by `/health/ready`). */
  ping(): Promise<void>;

  close(): Promise<void>;
}
