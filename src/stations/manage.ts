import { fingerprintOf } from '../lib/token-hash.js';
import {
  CONNECTOR_TYPES,
  POINT_STATUSES,
  STATION_STATUSES,
  type ChargingPoint,
  type Reservation,
  type Station,
  type StationStatus,
} from './port.js';

/**
 * The catalog's wire format (snake case, as the public API) and its validation: every bad field
 * is named, as for a start request. The same format seeds the catalog from a file.
 */

export interface FieldError {
  field: string;
  message: string;
}

/** A station has at most this many charging points: bounds a document and a capacity check. */
export const MAX_CHARGING_POINTS = 64;
const MAX_TEXT = 200;
const POINT_ID = /^[A-Za-z0-9*._:-]{1,48}$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, max = MAX_TEXT): v is string =>
  typeof v === 'string' && v.trim().length > 0 && v.length <= max;
const isIn = <T extends string>(list: readonly T[], v: unknown): v is T =>
  typeof v === 'string' && (list as readonly string[]).includes(v);
const inRange = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;

function pointErrors(points: unknown, errors: FieldError[]): void {
  if (!Array.isArray(points) || points.length === 0 || points.length > MAX_CHARGING_POINTS) {
    errors.push({
      field: 'charging_points',
      message: `must be an array of 1 to ${MAX_CHARGING_POINTS} charging points`,
    });
    return;
  }
  const ids = new Set<unknown>();
  points.forEach((p: unknown, i) => {
    const at = `charging_points[${i}]`;
    const point = isObject(p) ? p : {};
    if (typeof point.id !== 'string' || !POINT_ID.test(point.id) || ids.has(point.id)) {
      errors.push({ field: `${at}.id`, message: 'must be a unique id of 1 to 48 characters' });
    }
    ids.add(point.id);
    if (!isIn(CONNECTOR_TYPES, point.connector_type)) {
      errors.push({
        field: `${at}.connector_type`,
        message: `must be one of ${CONNECTOR_TYPES.join(', ')}`,
      });
    }
    if (!inRange(point.max_power_kw, 0.1, 2_000)) {
      errors.push({ field: `${at}.max_power_kw`, message: 'must be a number from 0.1 to 2000' });
    }
    if (point.status !== undefined && !isIn(POINT_STATUSES, point.status)) {
      errors.push({
        field: `${at}.status`,
        message: `must be one of ${POINT_STATUSES.join(', ')}`,
      });
    }
  });
}

/** Every bad field of a station document (`id` comes from the path or the file). */
export function stationInputErrors(input: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const body = isObject(input) ? input : {};
  if (!isText(body.name)) errors.push({ field: 'name', message: 'must be 1 to 200 characters' });
  const location = isObject(body.location) ? body.location : {};
  if (!inRange(location.lat, -90, 90)) {
    errors.push({ field: 'location.lat', message: 'must be a number from -90 to 90' });
  }
  if (!inRange(location.lon, -180, 180)) {
    errors.push({ field: 'location.lon', message: 'must be a number from -180 to 180' });
  }
  const address = isObject(body.address) ? body.address : {};
  for (const field of ['street', 'city', 'postal_code'] as const) {
    if (!isText(address[field])) {
      errors.push({ field: `address.${field}`, message: 'must be 1 to 200 characters' });
    }
  }
  if (typeof address.country !== 'string' || !/^[A-Z]{2}$/.test(address.country)) {
    errors.push({ field: 'address.country', message: 'must be an ISO 3166-1 alpha-2 code' });
  }
  if (body.status !== undefined && !isIn(STATION_STATUSES, body.status)) {
    errors.push({ field: 'status', message: `must be one of ${STATION_STATUSES.join(', ')}` });
  }
  pointErrors(body.charging_points, errors);
  return errors;
}

/** The station of a document `stationInputErrors` found no fault with. */
export function stationOf(id: string, input: unknown, at: number): Station {
  const body = input as {
    name: string;
    location: { lat: number; lon: number };
    address: { street: string; city: string; postal_code: string; country: string };
    status?: StationStatus;
    charging_points: {
      id: string;
      connector_type: ChargingPoint['connectorType'];
      max_power_kw: number;
      status?: ChargingPoint['status'];
    }[];
  };
  return {
    id: id.toLowerCase(),
    name: body.name.trim(),
    location: { lat: body.location.lat, lon: body.location.lon },
    address: {
      street: body.address.street,
      city: body.address.city,
      postalCode: body.address.postal_code,
      country: body.address.country,
    },
    status: body.status ?? 'available',
    chargingPoints: body.charging_points.map((p) => ({
      id: p.id,
      connectorType: p.connector_type,
      maxPowerKw: p.max_power_kw,
      status: p.status ?? 'available',
    })),
    updatedAt: at,
  };
}

export function stationView(s: Station, extra: { distance_km?: number } = {}) {
  return {
    id: s.id,
    name: s.name,
    location: s.location,
    address: {
      street: s.address.street,
      city: s.address.city,
      postal_code: s.address.postalCode,
      country: s.address.country,
    },
    status: s.status,
    charging_points: s.chargingPoints.map((p) => ({
      id: p.id,
      connector_type: p.connectorType,
      max_power_kw: p.maxPowerKw,
      status: p.status,
    })),
    updated_at: new Date(s.updatedAt).toISOString(),
    ...extra,
  };
}

export const RESERVATION_STATES = ['upcoming', 'active', 'ended', 'cancelled'] as const;

/** `cancelled`, `ended` (past its end), `active` (now within it) or `upcoming`. */
export function reservationState(r: Reservation, now: number): (typeof RESERVATION_STATES)[number] {
  if (r.cancelledAt !== null) return 'cancelled';
  if (now >= r.endsAt) return 'ended';
  return now >= r.startsAt ? 'active' : 'upcoming';
}

/** Never the driver token: its keyed hash's fingerprint at most. */
export function reservationView(r: Reservation, now: number) {
  return {
    id: r.id,
    station_id: r.stationId,
    driver_token_hash_prefix: fingerprintOf(r.tokenHash),
    starts_at: new Date(r.startsAt).toISOString(),
    ends_at: new Date(r.endsAt).toISOString(),
    status: reservationState(r, now),
    created_at: new Date(r.createdAt).toISOString(),
    cancelled_at: r.cancelledAt === null ? null : new Date(r.cancelledAt).toISOString(),
  };
}
