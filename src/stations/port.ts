/**
 * The station catalog and its reservations. A station has charging points; a reservation books
 * one of them for a driver over a window. The worker reads both before it asks the
 * authorization service (`stations/rules.ts`).
 *
 * An adapter must guarantee that `reserve` is atomic against every other `reserve` and every
 * write of the station, in all processes: it locks the station (PostgreSQL `FOR UPDATE`,
 * SQLite `BEGIN IMMEDIATE`), counts the overlapping reservations and inserts, so two
 * reservations made at the same moment can never book more charging points than there are.
 */

export const STATION_STATUSES = ['available', 'occupied', 'out_of_order'] as const;
export type StationStatus = (typeof STATION_STATUSES)[number];
export const CONNECTOR_TYPES = ['CCS1', 'CCS2', 'Type1', 'Type2', 'CHAdeMO', 'NACS'] as const;
export type ConnectorType = (typeof CONNECTOR_TYPES)[number];
export const POINT_STATUSES = ['available', 'occupied', 'out_of_order'] as const;
export type PointStatus = (typeof POINT_STATUSES)[number];

export interface ChargingPoint {
  id: string;
  connectorType: ConnectorType;
  maxPowerKw: number;
  status: PointStatus;
}

export interface Station {
  /** UUID, lower case: the `station_id` of start requests. */
  id: string;
  name: string;
  location: { lat: number; lon: number };
  address: { street: string; city: string; postalCode: string; country: string };
  status: StationStatus;
  chargingPoints: ChargingPoint[];
  updatedAt: number;
}

export interface Reservation {
  id: string;
  stationId: string;
  /** Keyed hash of the driver token (`lib/token-hash.ts`); the token itself is never kept. */
  tokenHash: string;
  startsAt: number;
  endsAt: number;
  createdAt: number;
  cancelledAt: number | null;
}

export type ReserveResult =
  | { kind: 'created'; reservation: Reservation }
  | { kind: 'no_station' }
  /** The window would book more charging points than the station has. */
  | { kind: 'full'; capacity: number };

export interface StationPage {
  items: Station[];
  /** The `after` of the next page; null on the last. */
  next: string | null;
}

export interface StationStore {
  /** Stations by id, `limit` at most, after the id `after`; of one status when given. */
  list(query: { limit: number; after?: string; status?: StationStatus }): Promise<StationPage>;
  /**
   * Stations inside the box `minLat..maxLat`, `minLon..maxLon` (of one status when given),
   * `limit` at most: the candidates of a `near=` search, which the caller sorts by distance.
   */
  inBox(query: {
    minLat: number;
    maxLat: number;
    minLon: number;
    maxLon: number;
    limit: number;
    status?: StationStatus;
  }): Promise<Station[]>;
  get(id: string): Promise<Station | null>;
  /** Creates or replaces the station; true when it was created. */
  put(station: Station): Promise<boolean>;
  /** Sets the status; null when there is no such station. */
  setStatus(id: string, status: StationStatus, at: number): Promise<Station | null>;
  /** Deletes the station and its reservations; false when there was none. */
  remove(id: string): Promise<boolean>;
  /** Whether the catalog holds no station (seeding). */
  isEmpty(): Promise<boolean>;

  /** Books the window unless it would exceed the station's charging points (see above). */
  reserve(reservation: Reservation): Promise<ReserveResult>;
  getReservation(id: string): Promise<Reservation | null>;
  /** Cancels it at `at` (once); null when there is none. */
  cancelReservation(id: string, at: number): Promise<Reservation | null>;
  /** The station's reservations not cancelled that overlap `from..to` (ends exclusive). */
  overlapping(stationId: string, from: number, to: number): Promise<Reservation[]>;
  /** Reservations by start time that overlap `from..to`, of every station, `limit` at most. */
  reservationsBetween(from: number, to: number, limit: number): Promise<Reservation[]>;
  /** Deletes reservations that ended (or were cancelled) before `before`; how many. */
  purgeEnded(before: number): Promise<number>;
  close(): Promise<void>;
}

/** The most charging points booked at once by `reservations` (a sweep over their ends). */
export function peakOverlap(reservations: readonly Pick<Reservation, 'startsAt' | 'endsAt'>[]) {
  const edges = reservations.flatMap((r) => [
    { at: r.startsAt, delta: 1 },
    { at: r.endsAt, delta: -1 },
  ]);
  // An end and a start at the same instant do not overlap: ends first.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let peak = 0;
  for (const edge of edges) {
    now += edge.delta;
    peak = Math.max(peak, now);
  }
  return peak;
}

/** Whether adding `candidate` to the station's overlapping reservations stays within capacity. */
export function fits(
  candidate: Pick<Reservation, 'startsAt' | 'endsAt'>,
  overlapping: readonly Pick<Reservation, 'startsAt' | 'endsAt'>[],
  capacity: number,
): boolean {
  return peakOverlap([...overlapping, candidate]) <= capacity;
}

const EARTH_RADIUS_KM = 6371.0088;
const toRad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance (haversine), km. */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }) {
  const dLat = toRad(b.lat - a.lat);
  const dLon = toRad(b.lon - a.lon);
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(toRad(a.lat)) * Math.cos(toRad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** A latitude/longitude box that holds every point within `radiusKm` of `center`. */
export function boxAround(center: { lat: number; lon: number }, radiusKm: number) {
  const dLat = (radiusKm / EARTH_RADIUS_KM) * (180 / Math.PI);
  const cosLat = Math.cos(toRad(center.lat));
  // Near a pole (or a radius that wraps), every longitude is in range.
  const dLon = cosLat < 1e-6 ? 180 : Math.min(180, dLat / cosLat);
  const minLon = center.lon - dLon;
  const maxLon = center.lon + dLon;
  const wraps = minLon < -180 || maxLon > 180;
  return {
    minLat: Math.max(-90, center.lat - dLat),
    maxLat: Math.min(90, center.lat + dLat),
    minLon: wraps ? -180 : minLon,
    maxLon: wraps ? 180 : maxLon,
  };
}
