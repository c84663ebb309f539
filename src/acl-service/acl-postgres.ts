import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { uuidv7 } from '../lib/ids.js';
import { loadMigrations } from '../lib/migration-files.js';
import { CREATE_ROUNDS, DEFAULT_POOL_SIZE, DEFAULT_SCHEMA } from '../lib/pg-defaults.js';
import { openMigratedPool } from '../lib/pg-migrations.js';
import { loadQuery } from '../lib/sql-files.js';
import {
  sortedStations,
  type AclCreateResult,
  type AclEntry,
  type AclEntryStatus,
  type AclImportMode,
  type AclImportResult,
  type AclPatch,
  type AclRecord,
  type AclStore,
} from './acl.js';

/**
 * The distributed-mode ACL store: PostgreSQL, shared by every auth-service process. Nothing is
 * cached, so a write through any process applies to the next `find` everywhere. The port's
 * rules are the SQL's: one entry per token is the table's UNIQUE key, a patch is one UPDATE
 * (no read-modify-write to lose a concurrent change), and an import is one transaction.
 */

export interface PostgresAclStoreOptions {
  /** `postgres://…` connection URL. */
  url: string;
  /** Schema holding the table; created when missing. May be the decision store's. */
  schema?: string;
  /** Most connections this process holds open at once. */
  poolSize?: number;
  /** Clock for `created_at`/`updated_at`, epoch milliseconds. */
  now?: () => number;
}

/** Shows who holds a connection in `pg_stat_activity`. */
const APPLICATION_NAME = 'chargegate-acl';
/** Its own history, so the decision store's versions and these never refuse each other. */
export const ACL_MIGRATIONS_TABLE = 'chargegate_acl_migrations';
/** "CGAC" in ASCII; the decision store's is "CGST", so neither waits for the other. */
const ACL_MIGRATION_LOCK_KEY = 0x43474143;

/**
 * `migrations/postgres/NNN-name.sql`, read once at module load from beside this file. Never edit
 * a released migration: add the next version.
 */
export const ACL_MIGRATIONS = loadMigrations(new URL('./migrations/postgres/', import.meta.url));

/** pg returns `bigint` columns as strings, since they may exceed 2^53. */
type Int8 = string;

interface Row {
  id: string;
  token_hash: string;
  status: AclEntryStatus;
  expires_at: Int8 | null;
  stations: string[] | null;
  note: string | null;
  created_at: Int8;
  updated_at: Int8;
}

type ImportCounts = { existed: Int8; written: Int8 };

const COLUMNS = 'id, token_hash, status, expires_at, stations, note, created_at, updated_at';

/** Qualified with the quoted schema, so the store never depends on a connection's
 * `search_path`. */
function statements(schema: string) {
  const t = `${pg.escapeIdentifier(schema)}.acl_entries`;
  return {
    find: `SELECT ${COLUMNS} FROM ${t} WHERE token_hash = $1`,
    get: `SELECT ${COLUMNS} FROM ${t} WHERE id = $1`,
    page: `SELECT ${COLUMNS} FROM ${t} WHERE id > $1 ORDER BY id LIMIT $2`,
    idOf: `SELECT id FROM ${t} WHERE token_hash = $1`,
    insert: `INSERT INTO ${t} SELECT * FROM jsonb_populate_record(NULL::${t}, $1::jsonb)
      ON CONFLICT (token_hash) DO NOTHING RETURNING ${COLUMNS}`,
    // Each optional field comes with a flag: absent keeps the column, present (NULL included)
    // sets it. One statement, so a concurrent patch of another field is never lost.
    update: `UPDATE ${t} SET status = COALESCE($2, status),
        expires_at = CASE WHEN $3::boolean THEN $4::bigint ELSE expires_at END,
        stations = CASE WHEN $5::boolean THEN $6::jsonb ELSE stations END,
        note = CASE WHEN $7::boolean THEN $8::text ELSE note END,
        updated_at = $9::bigint
      WHERE id = $1 RETURNING ${COLUMNS}`,
    delete: `DELETE FROM ${t} WHERE id = $1`,
    count: `SELECT count(*) AS n FROM ${t}`,
    // Blocks other writers, never readers, so `find` keeps answering during an import and the
    // counts below see no concurrent write: SQLite's write lock, in PostgreSQL terms.
    lock: `LOCK TABLE ${t} IN SHARE ROW EXCLUSIVE MODE`,
    import: loadQuery(new URL('./queries/postgres/import.sql', import.meta.url), {
      acl_entries: t,
    }),
    deleteOthers: `DELETE FROM ${t} AS a WHERE NOT EXISTS (
        SELECT 1 FROM jsonb_to_recordset($1::jsonb) AS i(token_hash text)
        WHERE i.token_hash = a.token_hash)`,
  };
}

type Statements = ReturnType<typeof statements>;

function int8(value: Int8): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new RangeError(`Integer ${value} is out of range`);
  return parsed;
}

/** A new row, as JSON for `jsonb_populate_record(set)`, which types it by the table itself.
 * Every column is given: a missing key would insert NULL, not the column's default. */
function newRow(entry: AclEntry, at: number) {
  return {
    id: uuidv7(at),
    token_hash: entry.tokenHash,
    status: entry.status,
    expires_at: entry.expiresAt ?? null,
    stations: entry.stations === undefined ? null : sortedStations(entry.stations),
    note: entry.note ?? null,
    created_at: at,
    updated_at: at,
  };
}

function toRecord(row: Row): AclRecord {
  return {
    id: row.id,
    tokenHash: row.token_hash,
    status: row.status,
    ...(row.expires_at === null ? {} : { expiresAt: int8(row.expires_at) }),
    ...(row.stations === null ? {} : { stations: new Set(row.stations) }),
    ...(row.note === null ? {} : { note: row.note }),
    createdAt: int8(row.created_at),
    updatedAt: int8(row.updated_at),
  };
}

/** `update`'s parameters $2–$8: a flag and a value per optional field. Stations are sorted,
 * so equal sets are equal columns. */
function patchParams(patch: AclPatch): unknown[] {
  return [
    patch.status ?? null,
    patch.expiresAt !== undefined,
    patch.expiresAt ?? null,
    patch.stations !== undefined,
    patch.stations ? JSON.stringify(sortedStations(patch.stations)) : null,
    patch.note !== undefined,
    patch.note ?? null,
  ];
}

/** Runs `work` in one transaction on one connection; a failed ROLLBACK drops the connection. */
async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

class PostgresAclStore implements AclStore {
  readonly #pool: Pool;
  readonly #sql: Statements;
  readonly #now: () => number;
  #closed = false;

  constructor(pool: Pool, schema: string, now: () => number) {
    this.#pool = pool;
    this.#sql = statements(schema);
    this.#now = now;
  }

  async find(tokenHash: string) {
    return this.#one(this.#sql.find, [tokenHash]);
  }

  async get(id: string) {
    return this.#one(this.#sql.get, [id]);
  }

  async list({ limit, after }: { limit: number; after?: string }) {
    // One row more than asked tells whether another page exists without a COUNT.
    const { rows } = await this.#pool.query<Row>(this.#sql.page, [after ?? '', limit + 1]);
    const items = rows.slice(0, limit).map(toRecord);
    const last = items.at(-1);
    return rows.length > limit && last !== undefined ? { items, next: last.id } : { items };
  }

  async create(entry: AclEntry): Promise<AclCreateResult> {
    const values = [JSON.stringify(newRow(entry, this.#now()))];
    for (let round = 0; round < CREATE_ROUNDS; round += 1) {
      const inserted = await this.#pool.query<Row>(this.#sql.insert, values);
      const row = inserted.rows[0];
      if (row !== undefined) return { created: true, entry: toRecord(row) };
      // The conflicting insert waited for the winner to commit, so this statement sees it.
      const existing = await this.#pool.query<{ id: string }>(this.#sql.idOf, [entry.tokenHash]);
      const id = existing.rows[0]?.id;
      if (id !== undefined) return { created: false, existingId: id };
    }
    throw new Error('An ACL entry was neither stored nor found');
  }

  async update(id: string, patch: AclPatch) {
    return this.#one(this.#sql.update, [id, ...patchParams(patch), this.#now()]);
  }

  async delete(id: string) {
    const result = await this.#pool.query(this.#sql.delete, [id]);
    return result.rowCount === 1;
  }

  async importEntries(
    entries: readonly AclEntry[],
    options: { mode: AclImportMode },
  ): Promise<AclImportResult> {
    const at = this.#now();
    const incoming = JSON.stringify(entries.map((entry) => newRow(entry, at)));
    return transaction(this.#pool, async (client) => {
      await client.query(this.#sql.lock);
      const { rows } = await client.query<ImportCounts>(this.#sql.import, [incoming]);
      const existed = int8(rows[0]?.existed ?? '0');
      const written = int8(rows[0]?.written ?? '0');
      const created = entries.length - existed;
      const deleted =
        options.mode === 'replace'
          ? ((await client.query(this.#sql.deleteOthers, [incoming])).rowCount ?? 0)
          : 0;
      return {
        created,
        updated: written - created,
        unchanged: existed - written + created,
        deleted,
      };
    });
  }

  async count() {
    const { rows } = await this.#pool.query<{ n: Int8 }>(this.#sql.count);
    return int8(rows[0]?.n ?? '0');
  }

  async ping() {
    if (this.#closed) throw new Error('The PostgreSQL ACL store is closed');
    await this.#pool.query('SELECT 1');
  }

  async close() {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #one(text: string, values: unknown[]): Promise<AclRecord | undefined> {
    const { rows } = await this.#pool.query<Row>(text, values);
    const row = rows[0];
    return row === undefined ? undefined : toRecord(row);
  }
}

/**
 * Connects, applies the ACL's missing migrations (safe when several processes start at once)
 * and resolves once the store can serve. Rejects, leaving no connection open, when the server
 * is unreachable or was migrated by a newer release.
 */
export async function createPostgresAclStore(options: PostgresAclStoreOptions): Promise<AclStore> {
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const pool = await openMigratedPool({
    url: options.url,
    poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
    applicationName: APPLICATION_NAME,
    schema,
    table: ACL_MIGRATIONS_TABLE,
    migrations: ACL_MIGRATIONS,
    lockKey: ACL_MIGRATION_LOCK_KEY,
  });
  return new PostgresAclStore(pool, schema, options.now ?? Date.now);
}
