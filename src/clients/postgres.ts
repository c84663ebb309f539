import pg from 'pg';
import type { Pool } from 'pg';
import { loadMigrations } from '../lib/migration-files.js';
import { openMigratedPool } from '../lib/pg-migrations.js';
import type { Client, ClientStore } from './port.js';

/**
 * Distributed mode: the clients in PostgreSQL, beside the decision store, with their own
 * migration history so the two never refuse each other's versions. Every API and worker process
 * reads them from here (`registry.ts`).
 */

const CLIENT_MIGRATIONS_TABLE = 'chargegate_client_migrations';
/** "CGCL" in ASCII; the decision store's lock is "CGST". */
const CLIENT_MIGRATION_LOCK_KEY = 0x4347434c;
/** Reads every few seconds from each process and rare writes: two connections are plenty. */
const POOL_SIZE = 2;
const STATEMENT_TIMEOUT_MS = 5_000;

/** `migrations/postgres/NNN-name.sql`, read once at module load from beside this file. */
const CLIENT_MIGRATIONS = loadMigrations(new URL('./migrations/postgres/', import.meta.url));

export async function createPostgresClientStore(options: {
  url: string;
  schema: string;
}): Promise<ClientStore> {
  const pool: Pool = await openMigratedPool({
    url: options.url,
    poolSize: POOL_SIZE,
    applicationName: 'chargegate-clients',
    schema: options.schema,
    table: CLIENT_MIGRATIONS_TABLE,
    migrations: CLIENT_MIGRATIONS,
    lockKey: CLIENT_MIGRATION_LOCK_KEY,
    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
  });
  const clients = `${pg.escapeIdentifier(options.schema)}.clients`;
  return {
    async list() {
      const { rows } = await pool.query<{ doc: Client }>(
        `SELECT doc FROM ${clients} ORDER BY created_at, id`,
      );
      return rows.map((row) => row.doc);
    },
    async create(client) {
      const result = await pool.query(
        `INSERT INTO ${clients} (id, name, created_at, doc) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING`,
        [client.id, client.name, client.createdAt, JSON.stringify(client)],
      );
      return result.rowCount === 1;
    },
    async change(name, apply) {
      const connection = await pool.connect();
      let broken: Error | undefined;
      try {
        await connection.query('BEGIN');
        const { rows } = await connection.query<{ doc: Client }>(
          `SELECT doc FROM ${clients} WHERE name = $1 FOR UPDATE`,
          [name],
        );
        const row = rows[0];
        if (row === undefined) {
          await connection.query('ROLLBACK');
          return null;
        }
        const changed = apply(row.doc);
        await connection.query(`UPDATE ${clients} SET doc = $1 WHERE name = $2`, [
          JSON.stringify(changed),
          name,
        ]);
        await connection.query('COMMIT');
        return changed;
      } catch (error) {
        await connection.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
        throw error;
      } finally {
        connection.release(broken);
      }
    },
    async remove(name) {
      const result = await pool.query(`DELETE FROM ${clients} WHERE name = $1`, [name]);
      return result.rowCount === 1;
    },
    close: () => pool.end(),
  };
}
