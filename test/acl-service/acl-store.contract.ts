import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AclEntry, AclRecord, AclStore } from '../../src/acl-service/acl.js';

/**
 * The ACL store port's contract (src/acl-service/acl.ts), run against every adapter. An
 * adapter's test file calls `aclStoreContract` with a factory that returns a fresh, empty store
 * per test using the given clock, and a `cleanup` that releases it.
 */
export interface AclStoreFixture {
  store: AclStore;
  cleanup: () => Promise<void>;
}

const T0 = Date.parse('2030-01-01T00:00:00Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATION_A = '0b9f3c2e-5d1a-4c6b-9e7f-2a3b4c5d6e7f';
const STATION_B = '7c1e4a9d-2b3f-4e8a-9c6d-5f0a1b2c3d4e';

const hash = (n: number) => n.toString(16).padStart(64, '0');

function entry(n: number, overrides: Partial<AclEntry> = {}): AclEntry {
  return { tokenHash: hash(n), status: 'active', ...overrides };
}

export function aclStoreContract(
  name: string,
  makeStore: (now: () => number) => Promise<AclStoreFixture>,
): void {
  describe(`${name} ACL store (port contract)`, () => {
    let store: AclStore;
    let cleanup: () => Promise<void>;
    let now: number;

    /** Creates an entry, one millisecond after the previous one, and returns its record. */
    async function created(value: AclEntry): Promise<AclRecord> {
      now += 1;
      const result = await store.create(value);
      if (!result.created) throw new Error('expected the entry to be created');
      return result.entry;
    }

    beforeEach(async () => {
      now = T0;
      ({ store, cleanup } = await makeStore(() => now));
    });
    afterEach(() => cleanup());

    it('creates an entry with a fresh UUID id and finds it by token hash and by id', async () => {
      const stations = new Set([STATION_A]);
      const record = await created(
        entry(1, { status: 'blocked', expiresAt: T0 + 5, stations, note: 'n' }),
      );
      expect(record).toEqual({
        id: expect.stringMatching(UUID) as unknown,
        tokenHash: hash(1),
        status: 'blocked',
        expiresAt: T0 + 5,
        stations,
        note: 'n',
        createdAt: T0 + 1,
        updatedAt: T0 + 1,
      });
      expect(await store.find(hash(1))).toEqual(record);
      expect(await store.get(record.id)).toEqual(record);
      expect(await store.find(hash(2))).toBeUndefined();
      expect(await store.get('00000000-0000-7000-8000-000000000000')).toBeUndefined();
      expect(await store.count()).toBe(1);
    });

    it('reports the existing id instead of creating a second entry for a token', async () => {
      const first = await created(entry(1));
      expect(await store.create(entry(1, { status: 'blocked', note: 'again' }))).toEqual({
        created: false,
        existingId: first.id,
      });
      expect(await store.find(hash(1))).toEqual(first);
      expect(await store.count()).toBe(1);
    });

    it('updates status, expiry, stations and note; null removes, absent keeps', async () => {
      const record = await created(entry(1, { expiresAt: T0, note: 'old' }));
      now = T0 + 100;
      const updated = await store.update(record.id, {
        status: 'blocked',
        expiresAt: null,
        stations: new Set([STATION_B, STATION_A]),
      });
      expect(updated).toEqual({
        id: record.id,
        tokenHash: hash(1),
        status: 'blocked',
        stations: new Set([STATION_A, STATION_B]),
        note: 'old',
        createdAt: record.createdAt,
        updatedAt: T0 + 100,
      });
      expect(await store.find(hash(1))).toEqual(updated);
      const cleared = await store.update(record.id, { stations: null, note: null });
      expect(cleared).toEqual({ ...updated, stations: undefined, note: undefined });
      expect(cleared && 'stations' in cleared).toBe(false);
      expect(record).toMatchObject({ status: 'active', note: 'old' });
    });

    it('answers undefined or false for an id it does not know', async () => {
      const missing = '00000000-0000-7000-8000-000000000000';
      expect(await store.update(missing, { status: 'blocked' })).toBeUndefined();
      expect(await store.delete(missing)).toBe(false);
    });

    it('deletes an entry so its token is unknown and can be created again', async () => {
      const record = await created(entry(1));
      expect(await store.delete(record.id)).toBe(true);
      expect(await store.delete(record.id)).toBe(false);
      expect(await store.find(hash(1))).toBeUndefined();
      expect(await store.count()).toBe(0);
      const again = await created(entry(1));
      expect(again.id).not.toBe(record.id);
    });

    it('lists in creation order, page by page, surviving the deletion of the cursor', async () => {
      const records: AclRecord[] = [];
      for (let n = 1; n <= 5; n += 1) records.push(await created(entry(n)));
      const first = await store.list({ limit: 2 });
      expect(first.items.map((r) => r.tokenHash)).toEqual([hash(1), hash(2)]);
      expect(first.next).toBe(records[1]?.id);
      await store.delete(first.next ?? '');
      const second = await store.list({ limit: 2, after: first.next ?? '' });
      expect(second.items.map((r) => r.tokenHash)).toEqual([hash(3), hash(4)]);
      const last = await store.list({ limit: 2, after: second.next ?? '' });
      expect(last).toEqual({ items: [records[4]] });
      expect(await store.list({ limit: 10 })).toEqual({
        items: [0, 2, 3, 4].map((i) => records[i]),
      });
    });

    it('imports with upsert: creates, updates and keeps, without touching other entries', async () => {
      const kept = await created(entry(1, { note: 'not in the import' }));
      const same = await created(entry(2, { stations: new Set([STATION_A, STATION_B]) }));
      const changed = await created(entry(3, { expiresAt: T0, note: 'x' }));
      now = T0 + 1_000;
      const result = await store.importEntries(
        [
          entry(2, { stations: new Set([STATION_B, STATION_A]) }),
          entry(3, { status: 'blocked' }),
          entry(4, { status: 'expired' }),
        ],
        { mode: 'upsert' },
      );
      expect(result).toEqual({ created: 1, updated: 1, unchanged: 1, deleted: 0 });
      expect(await store.find(hash(1))).toEqual(kept);
      expect(await store.find(hash(2))).toEqual(same);
      // The imported entry replaces every field: the absent expiry and note are removed.
      expect(await store.find(hash(3))).toEqual({
        id: changed.id,
        tokenHash: hash(3),
        status: 'blocked',
        createdAt: changed.createdAt,
        updatedAt: T0 + 1_000,
      });
      expect(await store.find(hash(4))).toMatchObject({ status: 'expired', createdAt: T0 + 1_000 });
      expect(await store.count()).toBe(4);
    });

    it('imports with replace: the store then holds exactly the imported tokens', async () => {
      await created(entry(1));
      const two = await created(entry(2));
      await created(entry(3));
      const result = await store.importEntries([entry(2), entry(5, { status: 'blocked' })], {
        mode: 'replace',
      });
      expect(result).toEqual({ created: 1, updated: 0, unchanged: 1, deleted: 2 });
      const all = await store.list({ limit: 10 });
      expect(all.items.map((r) => r.tokenHash).sort()).toEqual([hash(2), hash(5)]);
      expect(await store.find(hash(2))).toEqual(two);
      expect(await store.importEntries([], { mode: 'replace' })).toMatchObject({ deleted: 2 });
      expect(await store.count()).toBe(0);
    });

    it('pings while open, and rejects every call once closed', async () => {
      await store.ping();
      await store.close();
      await store.close();
      await expect(store.ping()).rejects.toThrow();
      await expect(store.find(hash(1))).rejects.toThrow();
      await expect(store.create(entry(1))).rejects.toThrow();
    });
  });
}
