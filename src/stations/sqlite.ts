import { readFileSync } from 'node:fs';
import { openSqlite, settle, type Synchronous } from '../lib/sqlite.js';
import { fits, type Reservation, type Station, type StationStore } from './port.js';

/** Embedded mode: the catalog and its reservations in their own SQLite file in DATA_DIR
 * (`stations.db`). */

const SCHEMA_VERSION = 1;
/** Read once, at module load, from beside this file. */
const SCHEMA = readFileSync(new URL('./sqlite-schema.sql', import.meta.url), 'utf8');

interface ReservationRow {
  id: string;
  station_id: string;
  token_hash: string;
  starts_at: number;
  ends_at: number;
  created_at: number;
  cancelled_at: number | null;
}

const reservationOf = (row: ReservationRow): Reservation => ({
  id: row.id,
  stationId: row.station_id,
  tokenHash: row.token_hash,
  startsAt: row.starts_at,
  endsAt: row.ends_at,
  createdAt: row.created_at,
  cancelledAt: row.cancelled_at,
});
const stationOf = (row: { doc: string }) => JSON.parse(row.doc) as Station;

export function createSqliteStationStore(options: {
  file: string;
  synchronous?: Synchronous;
}): StationStore {
  const db = openSqlite({
    file: options.file,
    synchronous: options.synchronous ?? 'normal',
    schema: SCHEMA,
    schemaVersion: SCHEMA_VERSION,
    kind: 'stations',
    foreignKeys: true,
    secureDelete: true,
  });
  const RESERVATION = 'id, station_id, token_hash, starts_at, ends_at, created_at, cancelled_at';
  const sql = {
    page: db.prepare<[string, string | null, string | null, number], { doc: string }>(
      `SELECT doc FROM stations WHERE id > ? AND (? IS NULL OR status = ?) ORDER BY id LIMIT ?`,
    ),
    box: db.prepare<
      [number, number, number, number, string | null, string | null, number],
      { doc: string }
    >(
      `SELECT doc FROM stations WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?
       AND (? IS NULL OR status = ?) LIMIT ?`,
    ),
    get: db.prepare<[string], { doc: string }>('SELECT doc FROM stations WHERE id = ?'),
    put: db.prepare<[string, string, number, number, string]>(
      `INSERT INTO stations (id, status, lat, lon, doc) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, lat = excluded.lat,
       lon = excluded.lon, doc = excluded.doc`,
    ),
    remove: db.prepare<[string]>('DELETE FROM stations WHERE id = ?'),
    any: db.prepare<[], { one: number }>('SELECT 1 AS one FROM stations LIMIT 1'),
    overlapping: db.prepare<[string, number, number], ReservationRow>(
      `SELECT ${RESERVATION} FROM reservations WHERE station_id = ? AND cancelled_at IS NULL
       AND ends_at > ? AND starts_at < ? ORDER BY starts_at`,
    ),
    between: db.prepare<[number, number, number], ReservationRow>(
      `SELECT ${RESERVATION} FROM reservations WHERE cancelled_at IS NULL
       AND ends_at > ? AND starts_at < ? ORDER BY starts_at LIMIT ?`,
    ),
    insert: db.prepare<[string, string, string, number, number, number]>(
      `INSERT INTO reservations (id, station_id, token_hash, starts_at, ends_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    getReservation: db.prepare<[string], ReservationRow>(
      `SELECT ${RESERVATION} FROM reservations WHERE id = ?`,
    ),
    cancel: db.prepare<[number, string]>(
      'UPDATE reservations SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL',
    ),
    purge: db.prepare<[number, number]>(
      'DELETE FROM reservations WHERE ends_at < ? OR cancelled_at < ?',
    ),
  };
  const row = (station: Station) =>
    [station.id, station.status, station.location.lat, station.location.lon] as const;
  const put = (station: Station) => {
    const created = sql.get.get(station.id) === undefined;
    sql.put.run(...row(station), JSON.stringify(station));
    return created;
  };
  const setStatus = (id: string, status: Station['status'], at: number) => {
    const found = sql.get.get(id);
    if (found === undefined) return null;
    const changed: Station = { ...stationOf(found), status, updatedAt: at };
    sql.put.run(...row(changed), JSON.stringify(changed));
    return changed;
  };
  // BEGIN IMMEDIATE takes the write lock before the count: no other process can insert between
  // the count and this insert.
  const reserve = (reservation: Reservation) => {
    const found = sql.get.get(reservation.stationId);
    if (found === undefined) return { kind: 'no_station' as const };
    const capacity = stationOf(found).chargingPoints.length;
    const booked = sql.overlapping
      .all(reservation.stationId, reservation.startsAt, reservation.endsAt)
      .map(reservationOf);
    if (!fits(reservation, booked, capacity)) return { kind: 'full' as const, capacity };
    const r = reservation;
    sql.insert.run(r.id, r.stationId, r.tokenHash, r.startsAt, r.endsAt, r.createdAt);
    return { kind: 'created' as const, reservation };
  };
  const cancel = (id: string, at: number) => {
    sql.cancel.run(at, id);
    const found = sql.getReservation.get(id);
    return found === undefined ? null : reservationOf(found);
  };
  const tx = {
    put: db.transaction(put),
    setStatus: db.transaction(setStatus),
    reserve: db.transaction(reserve),
    cancel: db.transaction(cancel),
  };
  return {
    list: ({ limit, after, status }) =>
      settle(() => {
        const items = sql.page.all(after ?? '', status ?? null, status ?? null, limit + 1);
        const page = items.slice(0, limit).map(stationOf);
        return { items: page, next: items.length > limit ? (page.at(-1)?.id ?? null) : null };
      }),
    inBox: (q) =>
      settle(() =>
        sql.box
          .all(q.minLat, q.maxLat, q.minLon, q.maxLon, q.status ?? null, q.status ?? null, q.limit)
          .map(stationOf),
      ),
    get: (id) =>
      settle(() => {
        const found = sql.get.get(id);
        return found === undefined ? null : stationOf(found);
      }),
    put: (station) => settle(() => tx.put.immediate(station)),
    setStatus: (id, status, at) => settle(() => tx.setStatus.immediate(id, status, at)),
    remove: (id) => settle(() => sql.remove.run(id).changes === 1),
    isEmpty: () => settle(() => sql.any.get() === undefined),
    reserve: (reservation) => settle(() => tx.reserve.immediate(reservation)),
    getReservation: (id) =>
      settle(() => {
        const found = sql.getReservation.get(id);
        return found === undefined ? null : reservationOf(found);
      }),
    cancelReservation: (id, at) => settle(() => tx.cancel.immediate(id, at)),
    overlapping: (stationId, from, to) =>
      settle(() => sql.overlapping.all(stationId, from, to).map(reservationOf)),
    reservationsBetween: (from, to, limit) =>
      settle(() => sql.between.all(from, to, limit).map(reservationOf)),
    purgeEnded: (before) => settle(() => sql.purge.run(before, before).changes),
    close: () => settle(() => void db.close()),
  };
}
