import type { StationStore } from './port.js';

/**
 * The catalog's rules, applied by the worker before it asks the authorization service, in
 * this order (docs/stations.md):
 * 1. a station the catalog does not know: asked about as before, or `invalid`/`unknown_station`
 *    with STATION_CATALOG_STRICT;
 * 2. a station `out_of_order`: `not_allowed`/`station_out_of_order`;
 * 3. a driver holding a reservation for now: asked about;
 * 4. every charging point reserved by other drivers for now: `not_allowed`/`reserved`;
 * 5. otherwise: asked about.
 */

export const CATALOG_REASONS = ['unknown_station', 'station_out_of_order', 'reserved'] as const;
export type CatalogReason = (typeof CATALOG_REASONS)[number];

export type CatalogVerdict =
  { kind: 'ask' } | { kind: 'decided'; decision: 'not_allowed' | 'invalid'; reason: CatalogReason };

const ASK: CatalogVerdict = { kind: 'ask' };

/** Which rule decided a request, from its reason (no stored field needed). */
export function decidedBy(
  decision: string,
  reason: string | null,
): 'station_catalog' | 'authorization_service' | null {
  if (decision === 'pending') return null;
  return (CATALOG_REASONS as readonly string[]).includes(reason ?? '')
    ? 'station_catalog'
    : 'authorization_service';
}

export async function catalogVerdict(
  stations: StationStore,
  request: { stationId: string; tokenHash: string; at: number },
  options: { strict: boolean },
): Promise<CatalogVerdict> {
  const station = await stations.get(request.stationId.toLowerCase());
  if (station === null) {
    return options.strict
      ? { kind: 'decided', decision: 'invalid', reason: 'unknown_station' }
      : ASK;
  }
  if (station.status === 'out_of_order') {
    return { kind: 'decided', decision: 'not_allowed', reason: 'station_out_of_order' };
  }
  const now = await stations.overlapping(station.id, request.at, request.at + 1);
  if (now.length === 0) return ASK;
  if (now.some((r) => r.tokenHash === request.tokenHash)) return ASK;
  return now.length >= station.chargingPoints.length
    ? { kind: 'decided', decision: 'not_allowed', reason: 'reserved' }
    : ASK;
}
