import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import type { Migration } from './migration-files.js';

/**
 * The numbered-migration runner for PostgreSQL, shared by every component that owns tables (the
 * decision store, the reference ACL service, API clients, the station catalog). Each migration
 * set keeps its own history table; processes that start at once serialize on an advisory lock,
 * so each version is applied exactly once, and a database migrated by a newer release is
 * refused, not misread. A set's migrations are the numbered `.sql` files of one directory
 * (`loadMigrations`); each runs with `search_path` set to the target schema only, so it names
 * tables unqualified. Only versions and names are recorded, never the SQL text.
 */

/** Advisory lock key shared by every migration set for creating a schema ("CGSC"). */
const SCHEMA_LOCK_KEY = 0x43475343;

export interface MigrateOptions {
  /** Created when missing. */
  schema: string;
  /** History table inside `schema`; one per migration set, so sets never see each other. */
  table: string;
  migrations: readonly Migration[];
  /**
   * A 32-bit integer naming the migration set's advisory lock. The lock's second half is
   * derived from `schema` and `table`, so deployments (or tests) in other schemas of the same
   * database do not wait for each other.
   */
  lockKey: number;
}

/** What one call did: the versions it applied, in order (empty when already up to date). */
export interface MigrateResult {
  applied: number[];
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function validate(options: MigrateOptions): void {
  const { lockKey, migrations } = options;
  if (!Number.isInteger(lockKey) || lockKey < INT32_MIN || lockKey > INT32_MAX) {
    throw new RangeError(`Migration lock key ${lockKey} is not a 32-bit integer`);
  }
  let previous = 0;
  for (const { version, name } of migrations) {
    if (!Number.isSafeInteger(version) || version <= previous) {
      throw new RangeError(
        `Migration ${version} (${name}) is not a positive version above ${previous}`,
      );
    }
    previous = version;
  }
}

/** Signed 32 bits of a digest of the history table's qualified name: the lock's second key. */
function tableLockKey(schema: string, table: string): number {
  return createHash('sha256').update(`${schema}\0${table}`).digest().readInt32BE(0);
}

/**
 * Refuses a history holding a version this release does not know: a newer release has changed
 * the schema in ways this code cannot read, or a released migration was removed.
 */
function assertKnown(applied: ReadonlySet<number>, options: MigrateOptions): void {
  const known = new Set(options.migrations.map((m) => m.version));
  const newest = options.migrations.at(-1)?.version ?? 0;
  const unknown = [...applied].filter((version) => !known.has(version)).sort((a, b) => a - b);
  if (unknown.length === 0) return;
  const where = `${options.schema}.${options.table}`;
  const newer = unknown.some((version) => version > newest);
  throw new Error(
    newer
      ? `${where} has migration ${unknown.join(', ')}, newer than this release knows (${newest}); refusing to start`
      : `${where} has migration ${unknown.join(', ')}, which this release does not know; refusing to start`,
  );
}

/**
 * One transaction: take the lock, make sure schema and history exist, check the history, and
 * apply the first missing migration if any. Returns the version applied, or null when none was
 * missing. The history is re-read under the lock each time, so whatever another process
 * applied meanwhile is skipped.
 */
async function step(client: PoolClient, options: MigrateOptions): Promise<number | null> {
  const schema = pg.escapeIdentifier(options.schema);
  const history = `${schema}.${pg.escapeIdentifier(options.table)}`;
  await client.query('BEGIN');
  // A migration may rewrite a large table: the pool's statement timeout is for serving.
  await client.query('SET LOCAL statement_timeout = 0');
  // Every migration set takes the schema's lock first: sets with different keys (the decision
  // store, the ACL) may start at once on a schema that does not exist yet, and only one may
  // create it. The same order everywhere (schema, then set) cannot deadlock.
  await client.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [
    SCHEMA_LOCK_KEY,
    tableLockKey(options.schema, ''),
  ]);
  await client.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [
    options.lockKey,
    tableLockKey(options.schema, options.table),
  ]);
  // Checked first because CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the
  // database even when the schema exists, which a least-privilege role may lack.
  const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
    options.schema,
  ]);
  if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${schema}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${history} (
       version integer PRIMARY KEY,
       name text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
  const rows = await client.query<{ version: number }>(`SELECT version FROM ${history}`);
  const applied = new Set(rows.rows.map((row) => row.version));
  assertKnown(applied, options);
  const next = options.migrations.find((migration) => !applied.has(migration.version));
  if (next) {
    await client.query(`SET LOCAL search_path TO ${schema}`);
    await client.query(next.sql);
    await client.query(`INSERT INTO ${history} (version, name) VALUES ($1, $2)`, [
      next.version,
      next.name,
    ]);
  }
  await client.query('COMMIT');
  return next?.version ?? null;
}

/**
 * Applies the missing migrations in version order, each in its own transaction together with
 * its history row, so a failed migration leaves neither a half-built schema nor a record.
 * Safe to call from several processes at once.
 */
export async function migrate(pool: Pool, options: MigrateOptions): Promise<MigrateResult> {
  validate(options);
  const client = await pool.connect();
  const applied: number[] = [];
  let broken: Error | undefined;
  try {
    for (;;) {
      const version = await step(client, options);
      if (version === null) return { applied };
      applied.push(version);
    }
  } catch (error) {
    // A failed ROLLBACK means the connection itself is unusable: drop it from the pool.
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/** A connection that never comes fails `/health/ready` after this, instead of hanging it. */
const CONNECT_TIMEOUT_MS = 5_000;

/** Idle time before TCP keepalive probes start on a pooled connection. */
const KEEP_ALIVE_DELAY_MS = 10_000;

/**
 * Opens a pool and applies a migration set: what every PostgreSQL adapter does at start.
 * Rejects, leaving no connection open, when the server is unreachable or was migrated by a
 * newer release.
 */
export async function openMigratedPool(
  options: MigrateOptions & {
    url: string;
    poolSize: number;
    applicationName: string;
    /** The server cancels a statement that runs longer (`statement_timeout`); unset: never. */
    statementTimeoutMs?: number;
  },
): Promise<Pool> {
  const max = options.poolSize;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`Pool size ${max} is not positive`);
  const pool = new pg.Pool({
    connectionString: options.url,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: options.applicationName,
    // A server or path that has died without closing the connection is found by the kernel
    // within a minute or so, instead of a connection that hangs until the OS gives up (hours).
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
    ...(options.statementTimeoutMs === undefined
      ? {}
      : { statement_timeout: options.statementTimeoutMs }),
  });
  // An idle connection dropped by the server is reported here; unhandled, the event would crash
  // the process. The pool has already discarded it, and the next call reconnects or rejects.
  pool.on('error', () => {});
  try {
    await migrate(pool, options);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return pool;
}
