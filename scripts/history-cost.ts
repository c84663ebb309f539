/**
 * What one refresh of the console's history costs at a million stored sessions (the figure in
 * docs/operations.md): fills a SQLite store and a PostgreSQL store with a day of sessions
 * (decided, most delivered at once, some retried, some dead-lettered), then times
 * `store.history` for each of the console's ranges. Not a test: it takes minutes.
 *
 *   npx tsc -p tsconfig.scripts.json && node dist-scripts/scripts/history-cost.js [sessions]
 *
 * PostgreSQL is read from TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test);
 * the script works in a schema of its own and drops it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import { historyWindow, HISTORY_RANGES, type HistoryRange } from '../src/api/history.js';
import type { DecisionStore } from '../src/store/port.js';
import { createSqliteStore } from '../src/store/sqlite.js';
import { createPostgresStore } from '../src/store/postgres.js';

const SESSIONS = Number(process.argv[2] ?? 1_000_000);
const DAY_MS = 24 * 60 * 60_000;
const RUNS = 5;
const DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * One day of sessions, as SQL both engines run: `n` is 0 … SESSIONS - 1, `t0` the day's start.
 * 1 in 50 is retried once, 1 in 200 dead-lettered after 5 attempts, 1 in 20 is `unknown`.
 */
function sessionSelect(t0: number): string {
  const at = `${t0} + n * ${DAY_MS} / ${SESSIONS}`;
  return `SELECT printf_id, 'station', 'hash', 'https://cpo-' || (n % 7) || '.example/hooks',
      ${at}, 4 + n % 9,
      CASE WHEN n % 20 = 0 THEN 'unknown' WHEN n % 4 = 0 THEN 'not_allowed' ELSE 'allowed' END,
      'active', 20 + n % 60, ${at} + 40 + n % 60,
      CASE WHEN n % 200 = 0 THEN 'dead_lettered' ELSE 'delivered' END,
      CASE WHEN n % 200 = 0 THEN 5 WHEN n % 50 = 0 THEN 2 ELSE 1 END,
      ${at} + 150 + CASE WHEN n % 50 = 0 THEN 5000 ELSE 0 END,
      CASE WHEN n % 200 = 0 THEN NULL ELSE ${at} + 160 + CASE WHEN n % 50 = 0 THEN 5000 ELSE 0 END END`;
}

const COLUMNS = `request_id, station_id, token_hash, callback_url, accepted_at, accept_ms, decision,
  reason, auth_latency_ms, decided_at, callback_state, callback_attempts, last_attempt_at,
  delivered_at`;

function fillSqlite(file: string, t0: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const select = sessionSelect(t0).replace('printf_id', "printf('%012d', n)");
  db.exec(`WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < ${SESSIONS - 1})
    INSERT INTO sessions (${COLUMNS}) ${select.replace(/^SELECT/, 'SELECT')} FROM s`);
  db.exec(`INSERT INTO callback_attempts (request_id, attempt, started_at, duration_ms, status_code)
    SELECT request_id, 1, accepted_at + 150, 10, 200 FROM sessions;
    INSERT INTO callback_attempts (request_id, attempt, started_at, duration_ms, status_code)
    SELECT request_id, 2, accepted_at + 5150, 10, 200 FROM sessions WHERE callback_attempts > 1`);
  db.exec('ANALYZE');
  db.close();
}

async function fillPostgres(schema: string, t0: number): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    const q = pg.escapeIdentifier(schema);
    const select = sessionSelect(t0).replace('printf_id', "lpad(n::text, 12, '0')");
    await client.query(`INSERT INTO ${q}.sessions (${COLUMNS})
      ${select} FROM generate_series(0, ${SESSIONS - 1}::bigint) AS n`);
    await client.query(`INSERT INTO ${q}.callback_attempts (request_id, attempt, started_at,
        duration_ms, status_code)
      SELECT request_id, 1, accepted_at + 150, 10, 200 FROM ${q}.sessions
      UNION ALL
      SELECT request_id, 2, accepted_at + 5150, 10, 200 FROM ${q}.sessions
        WHERE callback_attempts > 1`);
    await client.query(`VACUUM ANALYZE ${q}.sessions`);
    await client.query(`VACUUM ANALYZE ${q}.callback_attempts`);
  } finally {
    await client.end();
  }
}

/** Median time of a refresh, and the longest the event loop was held during one (what the
 * API's requests wait in an embedded process). */
async function time(store: DecisionStore, range: HistoryRange, now: number) {
  const window = historyWindow(range, now);
  await store.history(window); // warm
  const runs: number[] = [];
  let rows = 0;
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  for (let i = 0; i < RUNS; i += 1) {
    const started = process.hrtime.bigint();
    const history = await store.history(window);
    runs.push(Number(process.hrtime.bigint() - started) / 1e6);
    rows = history.buckets.reduce((sum, b) => sum + b.accepted, 0);
  }
  delay.disable();
  runs.sort((a, b) => a - b);
  return {
    range,
    accepted_in_window: rows,
    median_ms: Number(runs[RUNS >> 1]?.toFixed(1)),
    longest_block_ms: Number((delay.max / 1e6).toFixed(1)),
  };
}

async function measure(name: string, store: DecisionStore, now: number): Promise<void> {
  for (const range of Object.keys(HISTORY_RANGES) as HistoryRange[]) {
    console.log(
      JSON.stringify({ store: name, sessions: SESSIONS, ...(await time(store, range, now)) }),
    );
  }
}

/** What schema 2 adds, undone: the file or schema is then as release 1 left it. */
const UNDO_V2 = `DROP INDEX sessions_accepted; DROP INDEX sessions_decided;
  DROP INDEX sessions_undecided; DROP INDEX sessions_delivered; DROP INDEX sessions_dead_lettered;
  DROP INDEX callback_retries; ALTER TABLE sessions DROP COLUMN accept_ms;`;

/** How long the first start of this release takes on a filled file of schema 1. */
async function sqliteMigration(file: string): Promise<number> {
  const db = new Database(file);
  db.exec(UNDO_V2);
  db.pragma('user_version = 1');
  db.close();
  const started = Date.now();
  await createSqliteStore({ file }).close();
  return (Date.now() - started) / 1000;
}

async function postgresMigration(schema: string): Promise<number> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${pg.escapeIdentifier(schema)}`);
    await client.query(UNDO_V2);
    await client.query('DELETE FROM chargegate_migrations WHERE version = 2');
  } finally {
    await client.end();
  }
  const started = Date.now();
  await (await createPostgresStore({ url: DATABASE_URL, schema })).close();
  return (Date.now() - started) / 1000;
}

async function main(): Promise<void> {
  const now = Date.now();
  const t0 = now - DAY_MS;
  const dir = mkdtempSync(join(tmpdir(), 'chargegate-history-'));
  try {
    const file = join(dir, 'store.db');
    await createSqliteStore({ file }).close();
    let started = Date.now();
    fillSqlite(file, t0);
    console.log(JSON.stringify({ store: 'sqlite', filled_s: (Date.now() - started) / 1000 }));
    const sqlite = createSqliteStore({ file });
    await measure('sqlite', sqlite, now);
    await sqlite.close();
    console.log(JSON.stringify({ store: 'sqlite', migration_2_s: await sqliteMigration(file) }));

    const schema = `history_cost_${process.pid}`;
    const postgres = await createPostgresStore({
      url: DATABASE_URL,
      schema,
      statementTimeoutMs: 60_000,
    });
    try {
      started = Date.now();
      await fillPostgres(schema, t0);
      console.log(JSON.stringify({ store: 'postgres', filled_s: (Date.now() - started) / 1000 }));
      await measure('postgres', postgres, now);
      await postgres.close();
      console.log(
        JSON.stringify({ store: 'postgres', migration_2_s: await postgresMigration(schema) }),
      );
    } finally {
      await postgres.close();
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA ${pg.escapeIdentifier(schema)} CASCADE`);
      await client.end();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
