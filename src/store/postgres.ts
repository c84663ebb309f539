import pg from 'pg';
import type { Pool } from 'pg';
import { openMigratedPool } from '../lib/pg-migrations.js';
import { loadQuery } from '../lib/sql-files.js';
import { loadMigrations } from '../lib/migration-files.js';
import { CREATE_ROUNDS, DEFAULT_POOL_SIZE, DEFAULT_SCHEMA } from '../lib/pg-defaults.js';
import { uuidv7Floor } from '../lib/ids.js';
import { TurnBatch } from './turn-batch.js';
import type {
  CallbackAttempt,
  CallbackState,
  CallbackStateUpdate,
  CreateSessionResult,
  Decision,
  DecisionInput,
  DecisionSource,
  DecisionStore,
  DisplayText,
  HistoryQuery,
  NewSession,
  SessionRecord,
  StoreHistory,
} from './port.js';
import { assembleHistory, historyStatements, type HistoryRows } from './history.js';
import { FINISHED, CALLBACK_NOT_TERMINAL } from './sql.js';
import { NO_DETAILS, tooLate } from './port.js';

/**
 * The distributed-mode decision store: PostgreSQL, shared by any number of API and worker
 * processes. As in the SQLite adapter, the port's guarantees are enforced by the SQL itself (a
 * unique index, conditional UPDATEs, one statement for a write that touches two tables), never
 * by a read before a write, so they hold across processes. Every write is an autocommit
 * statement, and a commit returns only after the server has made it durable
 * (`synchronous_commit` is left at the server's setting, `on` by default). The hot-path calls
 * made in one turn of the event loop (new sessions, session reads,
 * decisions, callback attempts) share one multi-row statement (`turn-batch.ts`), each caller still getting its own
 * outcome once that statement has completed.
 */

export interface PostgresStoreOptions {
  /** `postgres://…` connection URL. */
  url: string;
  /** Schema holding the tables; created when missing. */
  schema?: string;
  /** Most connections this process holds open at once. */
  poolSize?: number;
  /** A statement not answered within this fails here, and the server cancels it too. */
  statementTimeoutMs?: number;
}

/** Shows who holds a connection in `pg_stat_activity`. */
const APPLICATION_NAME = 'chargegate';
export const STORE_MIGRATIONS_TABLE = 'chargegate_migrations';
/**
 * The store's tables: `migrations/postgres/NNN-name.sql`, read once at module load from beside
 * this file. Never edit a released migration: add the next version. Timestamps are `bigint` ms
 * since the epoch, as the port speaks them; durations are whole ms.
 */
export const STORE_MIGRATIONS = loadMigrations(new URL('./migrations/postgres/', import.meta.url));
/** "CGST" in ASCII: tells the store's migration lock apart from other advisory locks. */
const STORE_MIGRATION_LOCK_KEY = 0x43475354;
/** Without a configured timeout a statement still fails after this rather than hang. */
const DEFAULT_STATEMENT_TIMEOUT_MS = 5_000;
/** How often the server's clock is compared with ours (see `acceptBy`). */
const CLOCK_CHECK_MS = 60_000;

/** pg returns `bigint` columns as strings, since they may exceed 2^53. */
type Int8 = string;

interface SessionRow {
  request_id: string;
  station_id: string;
  token_hash: string;
  callback_url: string;
  accepted_at: Int8;
  idempotency_key: string | null;
  client_id: string | null;
  decision: Decision | 'pending';
  reason: string | null;
  auth_latency_ms: number | null;
  decided_at: Int8 | null;
  decision_source: DecisionSource | null;
  authorization_reference: string | null;
  /** jsonb, parsed by pg. */
  allowed_evses: string[] | null;
  display_text: DisplayText | null;
  callback_state: CallbackState;
  callback_attempts: number;
  last_attempt_at: Int8 | null;
  delivered_at: Int8 | null;
  next_attempt_at: Int8 | null;
  accept_ms: number | null;
}

interface AttemptRow {
  attempt: number;
  started_at: Int8;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_snippet: string | null;
}

type KeyRow = { request_id: string; request_hash: string | null };

/** Moves the callback to `state` with its next attempt and the time; shared by both state
 * writes so they cannot drift apart. */
function moveCallback(state: string, next: string, at: string, table = ''): string {
  return `callback_state = ${state}, next_attempt_at = ${next},
  delivered_at = CASE WHEN ${state} = 'delivered' THEN ${at} ELSE ${table}delivered_at END`;
}

/** The move with $1 request, $2 state, $3 next attempt, $4 at. Casts pin each parameter's
 * type where it is reused. */
const MOVE_CALLBACK = moveCallback('$2::text', '$3::bigint', '$4::bigint');

const SESSION_COLUMNS = `request_id, station_id, token_hash, callback_url, accepted_at,
  idempotency_key, client_id, decision, reason, auth_latency_ms, decided_at, decision_source,
  authorization_reference, allowed_evses, display_text, callback_state,
  callback_attempts, last_attempt_at, delivered_at, next_attempt_at, accept_ms`;

/** Table names are qualified with the quoted schema, so the store never depends on a
 * connection's `search_path`. */
function statements(schema: string) {
  const sessions = `${pg.escapeIdentifier(schema)}.sessions`;
  const attempts = `${pg.escapeIdentifier(schema)}.callback_attempts`;
  return {
    insert: loadQuery(new URL('./queries/postgres/insert-sessions.sql', import.meta.url), {
      sessions,
    }),
    byKey: `SELECT request_id, request_hash FROM ${sessions} WHERE idempotency_key = $1`,
    get: `SELECT ${SESSION_COLUMNS} FROM ${sessions} WHERE request_id = ANY($1::text[])`,
    attempts: `SELECT attempt, started_at, duration_ms, status_code, error, response_snippet
      FROM ${attempts} WHERE request_id = $1 ORDER BY started_at, id`,
    // Decisions for distinct requests, one or many at once; the ones applied come back. A
    // concurrent decider's committed write is re-checked against `pending` before ours.
    decide: `UPDATE ${sessions} AS s SET decision = v.decision, reason = v.reason,
        auth_latency_ms = v.auth_latency_ms, decided_at = v.decided_at,
        decision_source = v.decision_source, authorization_reference = v.authorization_reference,
        allowed_evses = v.allowed_evses, display_text = v.display_text
      FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[], $6::text[],
          $7::text[], $8::jsonb[], $9::jsonb[])
        AS v (request_id, decision, reason, auth_latency_ms, decided_at, decision_source,
          authorization_reference, allowed_evses, display_text)
      WHERE s.request_id = v.request_id AND s.decision = 'pending'
      RETURNING s.request_id`,
    setState: `UPDATE ${sessions} SET ${MOVE_CALLBACK} WHERE request_id = $1 AND ${CALLBACK_NOT_TERMINAL}`,
    recordAttempts: loadQuery(new URL('./queries/postgres/record-attempts.sql', import.meta.url), {
      sessions,
      attempts,
      move_callback: moveCallback('v.state', 'v.next_attempt_at', 'v.at', 's.'),
      callback_not_terminal: CALLBACK_NOT_TERMINAL,
    }),
    // The id bound lets the primary key find old sessions (ids are time-ordered); the state
    // and time checks decide, and are checked again on the row deleted: a replay that moved it
    // back to pending meanwhile keeps it. SKIP LOCKED: workers purging at once take different
    // rows instead of waiting on each other. Attempts go with their session (ON DELETE CASCADE).
    purge: `DELETE FROM ${sessions} WHERE request_id IN (
          SELECT request_id FROM ${sessions}
          WHERE request_id < $1 AND ${FINISHED_BEFORE_2}
          ORDER BY request_id LIMIT $3 FOR UPDATE SKIP LOCKED)
        AND ${FINISHED_BEFORE_2}`,
  };
}

/** A finished callback whose last activity is older than $2 (the retention's cut-off). */
const FINISHED_BEFORE_2 = `${FINISHED}
  AND COALESCE(last_attempt_at, accepted_at) < $2::bigint`;

type Statements = ReturnType<typeof statements>;

function ms(value: Int8): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new RangeError(`Timestamp ${value} is out of range`);
  return parsed;
}

const msOrNull = (value: Int8 | null): number | null => (value === null ? null : ms(value));

/** Durations come from `performance.now()` and are fractional; the columns hold whole ms. */
const wholeMs = (value: number | null): number | null =>
  value === null ? null : Math.round(value);

function toRecord(row: SessionRow): SessionRecord {
  return {
    requestId: row.request_id,
    stationId: row.station_id,
    tokenHash: row.token_hash,
    callbackUrl: row.callback_url,
    acceptedAt: ms(row.accepted_at),
    acceptMs: row.accept_ms,
    idempotencyKey: row.idempotency_key,
    clientId: row.client_id,
    decision: row.decision,
    reason: row.reason,
    authLatencyMs: row.auth_latency_ms,
    decidedAt: msOrNull(row.decided_at),
    decisionSource: row.decision_source,
    details: {
      authorizationReference: row.authorization_reference,
      allowedEvses: row.allowed_evses,
      displayText: row.display_text,
    },
    callback: {
      state: row.callback_state,
      attempts: row.callback_attempts,
      lastAttemptAt: msOrNull(row.last_attempt_at),
      deliveredAt: msOrNull(row.delivered_at),
      nextAttemptAt: msOrNull(row.next_attempt_at),
    },
  };
}

function toAttempt(row: AttemptRow): CallbackAttempt {
  return {
    attempt: row.attempt,
    startedAt: ms(row.started_at),
    durationMs: row.duration_ms,
    statusCode: row.status_code,
    error: row.error,
    responseSnippet: row.response_snippet,
  };
}

/** Parameters $1–$4 of `MOVE_CALLBACK`. */
function moveParams(
  requestId: string,
  update: CallbackStateUpdate,
): [string, CallbackState, number | null, number] {
  return [requestId, update.state, update.nextAttemptAt ?? null, update.at];
}

/** A row of `insert`, `decide`: their parameter arrays' order. */
type InsertValues = [
  string,
  string,
  string,
  string,
  number,
  string | null,
  string | null,
  number | null,
  string | null,
  number | null,
];
/** The JSON values (EVSEs, display text) as text, cast to jsonb by the statement. */
type DecideValues = [
  string,
  string,
  string,
  number | null,
  number,
  DecisionSource,
  string | null,
  string | null,
  string | null,
];
type AttemptValues = [
  ...ReturnType<typeof moveParams>,
  number,
  number,
  number | null,
  number | null,
  string | null,
  string | null,
];

/** A batch's rows as one array per parameter, in the rows' order. */
function columns(rows: unknown[][]): unknown[][] {
  const arrays: unknown[][] = Array.from({ length: rows[0]?.length ?? 0 }, () => []);
  for (const row of rows) row.forEach((value, column) => arrays[column]?.push(value));
  return arrays;
}

/**
 * `columns`, the rows in request-id order (each row's first value), for the UPDATEs: processes
 * updating overlapping rows then tend to lock them in the same order. Best effort (the plan
 * decides the order rows are locked in); a deadlock only makes each call run alone.
 */
function requestColumns(rows: [string, ...unknown[]][]): unknown[][] {
  return columns([...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

class PostgresStore implements DecisionStore {
  readonly #pool: Pool;
  readonly #timeoutMs: number;
  /** The server's clock minus ours, in ms, as last measured. */
  #clockOffsetMs = 0;
  readonly #clockCheck: NodeJS.Timeout;
  readonly #sql: Statements;
  readonly #tables: { sessions: string; attempts: string };
  readonly #inserts: TurnBatch<InsertValues, boolean>;
  readonly #reads: TurnBatch<string, SessionRecord | null>;
  readonly #decisions: TurnBatch<DecideValues, boolean>;
  readonly #attempts: TurnBatch<AttemptValues, void>;
  #closed = false;

  constructor(pool: Pool, schema: string, timeoutMs: number) {
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
    this.#clockCheck = setInterval(() => {
      this.checkClock().catch(() => {}); // the last offset stays; the next check tries again
    }, CLOCK_CHECK_MS);
    this.#clockCheck.unref();
    this.#sql = statements(schema);
    this.#tables = {
      sessions: `${pg.escapeIdentifier(schema)}.sessions`,
      attempts: `${pg.escapeIdentifier(schema)}.callback_attempts`,
    };
    // Two creates with one key may share a statement: ON CONFLICT DO NOTHING skips the second
    // (the rows go in call order, so the earlier call wins), which then finds the first once the
    // statement has committed (`createSession`).
    this.#inserts = new TurnBatch<InsertValues, boolean>({
      runBatch: (rows) => this.#applied(this.#sql.insert, rows, columns(rows)),
    });
    this.#reads = new TurnBatch({
      runBatch: async (ids) => {
        const { rows } = await this.#query<SessionRow>(this.#sql.get, [ids]);
        const byId = new Map(rows.map((row) => [row.request_id, row]));
        return ids.map((id) => {
          const row = byId.get(id);
          return row ? toRecord(row) : null;
        });
      },
    });
    // Keyed by request: two calls for one request never share a statement (a multi-row UPDATE
    // touches a row once), the second runs once the first has settled and sees its outcome.
    this.#decisions = new TurnBatch<DecideValues, boolean>({
      runBatch: (batch) => this.#applied(this.#sql.decide, batch, requestColumns(batch)),
      keyOf: (values) => values[0],
    });
    this.#attempts = new TurnBatch<AttemptValues, void>({
      runBatch: async (batch) => {
        await this.#query(this.#sql.recordAttempts, requestColumns(batch));
        return batch.map(() => undefined);
      },
      keyOf: (values) => values[0],
    });
  }

  /**
   * Every statement goes through here, with the timeout: a server that has stopped answering
   * (paused, or a network path that black-holes) fails the call instead of hanging it, and
   * the pool drops the connection that timed out.
   */
  #query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    // `query_timeout` per query is read by pg's client, though its types omit it.
    const config: pg.QueryConfig = { text, values };
    return this.#pool.query<R>(Object.assign(config, { query_timeout: this.#timeoutMs }));
  }

  /** Measures the server's clock against ours (half the round trip is the uncertainty). */
  async checkClock(): Promise<void> {
    const before = Date.now();
    const { rows } = await this.#query<{ now: number }>(
      'SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now',
      [],
    );
    const after = Date.now();
    const server = Number(rows[0]?.now);
    if (Number.isFinite(server)) this.#clockOffsetMs = server - (before + after) / 2;
  }

  /** Runs a batched statement (`params`: the batch's columns) that returns the request ids it
   * applied to: each row's outcome. */
  async #applied(
    sql: string,
    batch: [string, ...unknown[]][],
    params: unknown[][],
  ): Promise<boolean[]> {
    const { rows } = await this.#query<{ request_id: string }>(sql, params);
    const applied = new Set(rows.map((row) => row.request_id));
    return batch.map((row) => applied.has(row[0]));
  }

  async createSession(session: NewSession): Promise<CreateSessionResult> {
    const key = session.idempotencyKey;
    const { acceptBy } = session;
    const values: InsertValues = [
      session.requestId,
      session.stationId,
      session.tokenHash,
      session.callbackUrl,
      session.acceptedAt,
      key ?? null,
      session.requestHash ?? null,
      // On the server's clock: the statement itself refuses to store a session it runs after.
      acceptBy === undefined ? null : acceptBy + this.#clockOffsetMs,
      session.clientId ?? null,
      session.startedAt === undefined ? null : session.startedAt + this.#clockOffsetMs,
    ];
    for (let round = 0; round < CREATE_ROUNDS; round += 1) {
      if (await this.#inserts.run(values)) return { created: true };
      // The conflicting insert waited for the winner to commit, so this new statement sees it.
      const existing = key === undefined ? null : await this.findByIdempotencyKey(key);
      if (existing) return { created: false, existing };
      if (acceptBy !== undefined && Date.now() > acceptBy) throw tooLate(session.requestId);
      // Without a key no conflict is ignored: the insert stored the session or rejected.
      if (key === undefined) break;
    }
    throw new Error(`Session ${session.requestId} was neither stored nor found`);
  }

  async findByIdempotencyKey(key: string) {
    const { rows } = await this.#query<KeyRow>(this.#sql.byKey, [key]);
    const row = rows[0];
    return row ? { requestId: row.request_id, requestHash: row.request_hash } : null;
  }

  getSession(requestId: string) {
    return this.#reads.run(requestId);
  }

  async listCallbackAttempts(requestId: string) {
    const { rows } = await this.#query<AttemptRow>(this.#sql.attempts, [requestId]);
    return rows.map(toAttempt);
  }

  recordDecision(requestId: string, input: DecisionInput) {
    const details = input.details ?? NO_DETAILS;
    return this.#decisions.run([
      requestId,
      input.decision,
      input.reason,
      wholeMs(input.authLatencyMs),
      input.decidedAt,
      input.source ?? 'service',
      details.authorizationReference,
      details.allowedEvses === null ? null : JSON.stringify(details.allowedEvses),
      details.displayText === null ? null : JSON.stringify(details.displayText),
    ]);
  }

  recordCallbackAttempt(requestId: string, attempt: CallbackAttempt, update: CallbackStateUpdate) {
    return this.#attempts.run([
      ...moveParams(requestId, update),
      attempt.startedAt,
      attempt.attempt,
      wholeMs(attempt.durationMs),
      attempt.statusCode,
      attempt.error,
      attempt.responseSnippet,
    ]);
  }

  async setCallbackState(requestId: string, update: CallbackStateUpdate) {
    await this.#query(this.#sql.setState, moveParams(requestId, update));
  }

  async purgeFinishedSessions(before: number, limit: number) {
    const result = await this.#query(this.#sql.purge, [uuidv7Floor(before), before, limit]);
    return result.rowCount ?? 0;
  }

  /** One read-only transaction at REPEATABLE READ: the statements see one snapshot. */
  async history(query: HistoryQuery): Promise<StoreHistory> {
    const sql = historyStatements(
      { sessions: this.#tables.sessions, attempts: this.#tables.attempts },
      query,
    );
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      const run = async <R extends pg.QueryResultRow>(text: string) => {
        const config: pg.QueryConfig = { text };
        return (await client.query<R>(Object.assign(config, { query_timeout: this.#timeoutMs })))
          .rows;
      };
      await run('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const rows: HistoryRows = {
        accepted: await run<HistoryRows['accepted'][number]>(sql.accepted),
        decided: await run<HistoryRows['decided'][number]>(sql.decided),
        delivered: await run<HistoryRows['delivered'][number]>(sql.delivered),
        retried: await run<HistoryRows['retried'][number]>(sql.retried),
        deadLettered: await run<HistoryRows['deadLettered'][number]>(sql.deadLettered),
        backlogAtTo: (await run<{ n: string }>(sql.backlogAtTo))[0]?.n ?? 0,
      };
      await run('COMMIT');
      return assembleHistory(query, rows);
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      // A connection that failed mid-transaction is dropped, not handed back half-open.
      client.release(broken);
    }
  }

  async ping() {
    if (this.#closed) throw new Error('The PostgreSQL store is closed');
    await this.#query('SELECT 1', []);
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#clockCheck);
    await this.#pool.end();
  }
}

/**
 * Connects, applies the store's missing migrations (safe when several processes start at once)
 * and resolves once the store can serve. Rejects, leaving no connection open, when the server
 * is unreachable or was migrated by a newer release.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<DecisionStore> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const timeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = await openMigratedPool({
    url: options.url,
    poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
    applicationName: APPLICATION_NAME,
    schema,
    table: STORE_MIGRATIONS_TABLE,
    migrations: STORE_MIGRATIONS,
    lockKey: STORE_MIGRATION_LOCK_KEY,
    statementTimeoutMs: timeoutMs,
  });
  const store = new PostgresStore(pool, schema, timeoutMs);
  try {
    await store.checkClock();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
