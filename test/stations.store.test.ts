import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Reservation, Station, StationStore } from '../src/stations/port.js';
import { boxAround, distanceKm, peakOverlap } from '../src/stations/port.js';
import { createSqliteStationStore } from '../src/stations/sqlite.js';
import { createPostgresStationStore } from '../src/stations/postgres.js';
import { catalogVerdict } from '../src/stations/rules.js';
import { tempDir } from './helpers/service.js';
import { DATABASE_URL, dropSchema, postgresAvailable } from './helpers/servers.js';

const havePostgres = await postgresAvailable();
const HOUR = 3_600_000;
const T0 = Date.UTC(2030, 0, 1, 8);

function station(overrides: Partial<Station> = {}, points = 2): Station {
  return {
    id: randomUUID(),
    name: 'Test station',
    location: { lat: 52.52, lon: 13.405 },
    address: { street: 'Street 1', city: 'Berlin', postalCode: '10178', country: 'DE' },
    status: 'available',
    chargingPoints: Array.from({ length: points }, (_, i) => ({
      id: `P${i}`,
      connectorType: 'CCS2' as const,
      maxPowerKw: 150,
      status: 'available' as const,
    })),
    updatedAt: T0,
    ...overrides,
  };
}

function reservation(stationId: string, startsAt: number, endsAt: number, tokenHash = 'h1') {
  return {
    id: randomUUID(),
    stationId,
    tokenHash,
    startsAt,
    endsAt,
    createdAt: T0,
    cancelledAt: null,
  } satisfies Reservation;
}

interface Opened {
  store: StationStore;
  /** A second store on the same database: another process's view. */
  other: () => Promise<StationStore>;
  cleanup: () => Promise<void>;
}

/** The station store's contract, run against both adapters. */
function stationStoreContract(name: string, open: () => Promise<Opened>) {
  describe(`${name} station store (port contract)`, () => {
    let opened: Opened;
    let store: StationStore;
    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });
    afterEach(() => opened.cleanup());

    it('creates, replaces, changes the status of and deletes a station', async () => {
      const s = station();
      expect(await store.isEmpty()).toBe(true);
      expect(await store.put(s)).toBe(true);
      expect(await store.put({ ...s, name: 'Renamed' })).toBe(false);
      expect((await store.get(s.id))?.name).toBe('Renamed');
      expect((await store.setStatus(s.id, 'out_of_order', T0 + 1))?.status).toBe('out_of_order');
      expect((await store.get(s.id))?.status).toBe('out_of_order');
      expect(await store.setStatus(randomUUID(), 'available', T0)).toBeNull();
      expect(await store.remove(s.id)).toBe(true);
      expect(await store.remove(s.id)).toBe(false);
      expect(await store.get(s.id)).toBeNull();
    });

    it('pages stations by id and filters them by status', async () => {
      const all = Array.from({ length: 5 }, (_, i) =>
        station({ status: i % 2 === 0 ? 'available' : 'out_of_order' }),
      );
      for (const s of all) await store.put(s);
      const ids = all.map((s) => s.id).sort();
      const first = await store.list({ limit: 3 });
      expect(first.items.map((s) => s.id)).toEqual(ids.slice(0, 3));
      const second = await store.list({ limit: 3, after: first.next! });
      expect(second.items.map((s) => s.id)).toEqual(ids.slice(3));
      expect(second.next).toBeNull();
      const broken = await store.list({ limit: 10, status: 'out_of_order' });
      expect(broken.items).toHaveLength(2);
    });

    it('finds the stations inside a box', async () => {
      const near = station({ location: { lat: 52.5, lon: 13.4 } });
      const far = station({ location: { lat: 48.1, lon: 11.6 } });
      await store.put(near);
      await store.put(far);
      const found = await store.inBox({ ...boxAround({ lat: 52.52, lon: 13.4 }, 10), limit: 10 });
      expect(found.map((s) => s.id)).toEqual([near.id]);
    });

    it('refuses a window that would book more charging points than the station has', async () => {
      const s = station({}, 2);
      await store.put(s);
      expect((await store.reserve(reservation(s.id, T0, T0 + 2 * HOUR))).kind).toBe('created');
      expect((await store.reserve(reservation(s.id, T0 + HOUR, T0 + 3 * HOUR))).kind).toBe(
        'created',
      );
      expect(await store.reserve(reservation(s.id, T0 + HOUR, T0 + 90 * 60_000))).toEqual({
        kind: 'full',
        capacity: 2,
      });
      // Back to back with the first one: it has ended by then.
      expect((await store.reserve(reservation(s.id, T0 + 2 * HOUR, T0 + 3 * HOUR))).kind).toBe(
        'created',
      );
      expect((await store.reserve(reservation(randomUUID(), T0, T0 + HOUR))).kind).toBe(
        'no_station',
      );
    });

    it('frees the charging point of a cancelled reservation', async () => {
      const s = station({}, 1);
      await store.put(s);
      const made = await store.reserve(reservation(s.id, T0, T0 + HOUR));
      if (made.kind !== 'created') throw new Error('not created');
      expect((await store.reserve(reservation(s.id, T0, T0 + HOUR))).kind).toBe('full');
      const cancelled = await store.cancelReservation(made.reservation.id, T0 - 1);
      expect(cancelled?.cancelledAt).toBe(T0 - 1);
      expect((await store.cancelReservation(made.reservation.id, T0))?.cancelledAt).toBe(T0 - 1);
      expect(await store.cancelReservation(randomUUID(), T0)).toBeNull();
      expect((await store.reserve(reservation(s.id, T0, T0 + HOUR))).kind).toBe('created');
    });

    it('books no more than capacity when many reserve at once from two processes', async () => {
      const s = station({}, 2);
      await store.put(s);
      const other = await opened.other();
      try {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 === 0 ? store : other).reserve(reservation(s.id, T0, T0 + HOUR, `h${i}`)),
          ),
        );
        expect(results.filter((r) => r.kind === 'created')).toHaveLength(2);
        expect(await store.overlapping(s.id, T0, T0 + HOUR)).toHaveLength(2);
      } finally {
        await other.close();
      }
    });

    it('purges reservations that ended, and deletes a station with its reservations', async () => {
      const s = station({}, 2);
      await store.put(s);
      const old = reservation(s.id, T0, T0 + HOUR);
      const kept = reservation(s.id, T0 + 2 * HOUR, T0 + 3 * HOUR);
      await store.reserve(old);
      await store.reserve(kept);
      expect(await store.reservationsBetween(T0, T0 + 4 * HOUR, 10)).toHaveLength(2);
      expect(await store.purgeEnded(T0 + 2 * HOUR)).toBe(1);
      expect(await store.getReservation(old.id)).toBeNull();
      expect((await store.getReservation(kept.id))?.tokenHash).toBe('h1');
      await store.remove(s.id);
      expect(await store.getReservation(kept.id)).toBeNull();
    });

    it("decides by the catalog's rules, in order", async () => {
      const s = station({}, 1);
      await store.put(s);
      const at = T0 + 30 * 60_000;
      const ask = { kind: 'ask' };
      const verdict = (stationId: string, tokenHash: string, strict = false) =>
        catalogVerdict(store, { stationId, tokenHash, at }, { strict });
      expect(await verdict(randomUUID(), 'h1')).toEqual(ask);
      expect(await verdict(randomUUID(), 'h1', true)).toMatchObject({ reason: 'unknown_station' });
      expect(await verdict(s.id, 'h1')).toEqual(ask);
      await store.reserve(reservation(s.id, T0, T0 + HOUR, 'holder'));
      expect(await verdict(s.id, 'holder')).toEqual(ask);
      expect(await verdict(s.id, 'someone-else')).toEqual({
        kind: 'decided',
        decision: 'not_allowed',
        reason: 'reserved',
      });
      await store.setStatus(s.id, 'out_of_order', at);
      expect(await verdict(s.id, 'holder')).toMatchObject({ reason: 'station_out_of_order' });
    });
  });
}

stationStoreContract('SQLite', () => {
  const dir = tempDir();
  const file = join(dir.path, 'stations.db');
  const store = createSqliteStationStore({ file });
  return Promise.resolve({
    store,
    other: () => Promise.resolve(createSqliteStationStore({ file })),
    cleanup: async () => {
      await store.close();
      dir.remove();
    },
  });
});

describe.skipIf(!havePostgres)('PostgreSQL', () => {
  stationStoreContract('PostgreSQL', async () => {
    const schema = `cgtest_${randomBytes(4).toString('hex')}`;
    const store = await createPostgresStationStore({ url: DATABASE_URL, schema });
    return {
      store,
      other: () => createPostgresStationStore({ url: DATABASE_URL, schema }),
      cleanup: async () => {
        await store.close();
        await dropSchema(DATABASE_URL, schema);
      },
    };
  });
});

describe('distances', () => {
  it('measures great-circle distances and the peak of overlapping windows', () => {
    // Berlin to Munich: about 504 km.
    expect(distanceKm({ lat: 52.52, lon: 13.405 }, { lat: 48.137, lon: 11.575 })).toBeCloseTo(
      504,
      -1,
    );
    expect(
      peakOverlap([
        { startsAt: 0, endsAt: 10 },
        { startsAt: 10, endsAt: 20 },
        { startsAt: 5, endsAt: 15 },
      ]),
    ).toBe(2);
  });
});
