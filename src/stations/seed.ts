import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { isUuid } from '../lib/ids.js';
import { stationInputErrors, stationOf } from './manage.js';
import type { Station, StationStore } from './port.js';

/**
 * Seeding an empty catalog from a file: `{"stations": [ {id, name, location, address, status,
 * charging_points}, … ]}`, each station in the API's format. A catalog that holds any station
 * is left alone, so an operator's changes survive restarts.
 */

/** The bundled example (embedded demo); resolves from both `src/stations/` and `dist/stations/`. */
export function bundledStationsPath(): string {
  return fileURLToPath(new URL('../../examples/stations.json', import.meta.url));
}

export function parseStationsFile(text: string, path: string, at: number): Station[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${path}: not valid JSON`);
  }
  const list = (doc as { stations?: unknown } | null)?.stations;
  if (!Array.isArray(list)) throw new Error(`${path}: expected {"stations": [...]}`);
  return list.map((entry: unknown, i) => {
    const id = (entry as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || !isUuid(id))
      throw new Error(`${path}: stations[${i}].id is not a UUID`);
    const errors = stationInputErrors(entry);
    if (errors.length > 0) {
      const fields = errors.map((e) => `${e.field} ${e.message}`).join('; ');
      throw new Error(`${path}: stations[${i}]: ${fields}`);
    }
    return stationOf(id, entry, at);
  });
}

/** Puts the file's stations into an empty catalog; how many (0 when it held any). */
export async function seedStations(store: StationStore, path: string, at: number) {
  if (!(await store.isEmpty())) return 0;
  const stations = parseStationsFile(await readFile(path, 'utf8'), path, at);
  for (const station of stations) await store.put(station);
  return stations.length;
}
