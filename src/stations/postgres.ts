import pg from 'pg';
import type { Pool, PoolClient } from 'pg';
import { loadMigrations } from '../lib/migration-files.js';
import { openMigratedPool } from '../lib/pg-migrations.js';
import { fits, type Reservation, type Station, type StationStore } from './port.js';

/**
 * Distributed mode: the catalog and its reservations in PostgreSQL, beside the decision store,
 * with their own migration history. Every API and worker process reads them from here.
 */

const STATION_MIGRATIONS_TABLE = 'chargegate_station_migrations';
/** "CGSN" in ASCII; the decision store's lock is "CGST", the clients' "CGCL". */
const STATION_MIGRATION_LOCK_KEY = 0x4347534e;
/** One read per decided request at a known station, and rare writes. */
const POOL_SIZE = 4;
const STATEMENT_TIMEOUT_MS = 5_000;

/** `migrations/postgres/NNN-name.sql`, read once at module load from beside this file. */
const STATION_MIGRATIONS = loadMigrations(new URL('./migrations/postgres/', import.meta.url));

interface ReservationRow {
  id: string;
  station_id: string;
  token_hash: string;
  starts_at: string;
  ends_at: string;
  created_at: string;
  cancelled_at: string | null;
}

const reservationOf = (row: ReservationRow): Reservation => ({
  id: row.id,
  stationId: row.station_id,
  tokenHash: row.token_hash,
  startsAt: Number(row.starts_at),
  endsAt: Number(row.ends_at),
  createdAt: Number(row.created_at),
  cancelledAt: row.cancelled_at === null ? null : Number(row.cancelled_at),
});
const RESERVATION = 'id, station_id, token_hash, starts_at, ends_at, created_at, cancelled_at';

/** Runs `work` in one transaction on one connection. */
async function inTransaction<T>(pool: Pool, work: (c: PoolClient) => Promise<T>): Promise<T> {
  const connection = await pool.connect();
  let broken: Error | undefined;
  try {
    await connection.query('BEGIN');
    const result = await work(connection);
    await connection.query('COMMIT');
    return result;
  } catch (error) {
    await connection.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
    throw error;
  } finally {
    connection.release(broken);
  }
}

export async function createPostgresStationStore(options: {
  url: string;
  schema: string;
}): Promise<StationStore> {
  const pool: Pool = await openMigratedPool({
    url: options.url,
    poolSize: POOL_SIZE,
    applicationName: 'chargegate-stations',
    schema: options.schema,
    table: STATION_MIGRATIONS_TABLE,
    migrations: STATION_MIGRATIONS,
    lockKey: STATION_MIGRATION_LOCK_KEY,
    statementTimeoutMs: STATEMENT_TIMEOUT_MS,
  });
  const stations = `${pg.escapeIdentifier(options.schema)}.stations`;
  const reservations = `${pg.escapeIdentifier(options.schema)}.reservations`;
  const upsert = `INSERT INTO ${stations} (id, status, lat, lon, doc) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, lat = excluded.lat,
    lon = excluded.lon, doc = excluded.doc RETURNING (xmax = 0) AS created`;
  const params = (s: Station) => [
    s.id,
    s.status,
    s.location.lat,
    s.location.lon,
    JSON.stringify(s),
  ];
  const overlapping = `SELECT ${RESERVATION} FROM ${reservations} WHERE station_id = $1
    AND cancelled_at IS NULL AND ends_at > $2 AND starts_at < $3 ORDER BY starts_at`;

  return {
    async list({ limit, after, status }) {
      const { rows } = await pool.query<{ doc: Station }>(
        `SELECT doc FROM ${stations} WHERE id > $1 AND ($2::text IS NULL OR status = $2)
         ORDER BY id LIMIT $3`,
        [after ?? '', status ?? null, limit + 1],
      );
      const items = rows.slice(0, limit).map((row) => row.doc);
      return { items, next: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    },
    async inBox(q) {
      const { rows } = await pool.query<{ doc: Station }>(
        `SELECT doc FROM ${stations} WHERE lat BETWEEN $1 AND $2 AND lon BETWEEN $3 AND $4
         AND ($5::text IS NULL OR status = $5) LIMIT $6`,
        [q.minLat, q.maxLat, q.minLon, q.maxLon, q.status ?? null, q.limit],
      );
      return rows.map((row) => row.doc);
    },
    async get(id) {
      const { rows } = await pool.query<{ doc: Station }>(
        `SELECT doc FROM ${stations} WHERE id = $1`,
        [id],
      );
      return rows[0]?.doc ?? null;
    },
    async put(station) {
      const { rows } = await pool.query<{ created: boolean }>(upsert, params(station));
      return rows[0]?.created === true;
    },
    setStatus: (id, status, at) =>
      inTransaction(pool, async (c) => {
        const { rows } = await c.query<{ doc: Station }>(
          `SELECT doc FROM ${stations} WHERE id = $1 FOR UPDATE`,
          [id],
        );
        const found = rows[0];
        if (found === undefined) return null;
        const changed: Station = { ...found.doc, status, updatedAt: at };
        await c.query(upsert, params(changed));
        return changed;
      }),
    async remove(id) {
      const result = await pool.query(`DELETE FROM ${stations} WHERE id = $1`, [id]);
      return result.rowCount === 1;
    },
    async isEmpty() {
      const { rows } = await pool.query(`SELECT 1 FROM ${stations} LIMIT 1`);
      return rows.length === 0;
    },
    // The station's row lock serializes every reservation of the station across processes:
    // the second waits for the first's commit, then counts it.
    reserve: (reservation) =>
      inTransaction(pool, async (c) => {
        const { rows } = await c.query<{ doc: Station }>(
          `SELECT doc FROM ${stations} WHERE id = $1 FOR UPDATE`,
          [reservation.stationId],
        );
        const found = rows[0];
        if (found === undefined) return { kind: 'no_station' as const };
        const capacity = found.doc.chargingPoints.length;
        const booked = await c.query<ReservationRow>(overlapping, [
          reservation.stationId,
          reservation.startsAt,
          reservation.endsAt,
        ]);
        if (!fits(reservation, booked.rows.map(reservationOf), capacity)) {
          return { kind: 'full' as const, capacity };
        }
        const r = reservation;
        await c.query(
          `INSERT INTO ${reservations} (id, station_id, token_hash, starts_at, ends_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [r.id, r.stationId, r.tokenHash, r.startsAt, r.endsAt, r.createdAt],
        );
        return { kind: 'created' as const, reservation };
      }),
    async getReservation(id) {
      const { rows } = await pool.query<ReservationRow>(
        `SELECT ${RESERVATION} FROM ${reservations} WHERE id = $1`,
        [id],
      );
      return rows[0] === undefined ? null : reservationOf(rows[0]);
    },
    async cancelReservation(id, at) {
      const { rows } = await pool.query<ReservationRow>(
        `UPDATE ${reservations} SET cancelled_at = COALESCE(cancelled_at, $1) WHERE id = $2
         RETURNING ${RESERVATION}`,
        [at, id],
      );
      return rows[0] === undefined ? null : reservationOf(rows[0]);
    },
    async overlapping(stationId, from, to) {
      const { rows } = await pool.query<ReservationRow>(overlapping, [stationId, from, to]);
      return rows.map(reservationOf);
    },
    async reservationsBetween(from, to, limit) {
      const { rows } = await pool.query<ReservationRow>(
        `SELECT ${RESERVATION} FROM ${reservations} WHERE cancelled_at IS NULL AND ends_at > $1
         AND starts_at < $2 ORDER BY starts_at LIMIT $3`,
        [from, to, limit],
      );
      return rows.map(reservationOf);
    },
    async purgeEnded(before) {
      const result = await pool.query(
        `DELETE FROM ${reservations} WHERE ends_at < $1 OR cancelled_at < $1`,
        [before],
      );
      return result.rowCount ?? 0;
    },
    close: () => pool.end(),
  };
}
