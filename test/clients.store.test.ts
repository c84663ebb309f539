import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ClientStore } from '../src/clients/port.js';
import { createSqliteClientStore } from '../src/clients/sqlite.js';
import { createPostgresClientStore } from '../src/clients/postgres.js';
import { createClientRegistry } from '../src/clients/registry.js';
import { createClient, rotateKey, rotateSecret } from '../src/clients/manage.js';
import { tempDir } from './helpers/service.js';
import { DATABASE_URL, dropSchema, postgresAvailable } from './helpers/servers.js';

const havePostgres = await postgresAvailable();

/** The client store's contract, run against both adapters. */
function clientStoreContract(
  name: string,
  open: () => Promise<{ store: ClientStore; cleanup: () => Promise<void> }>,
) {
  describe(`${name} client store (port contract)`, () => {
    let store: ClientStore;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(() => cleanup());

    it('creates a client once per name and lists it with its key and secret', async () => {
      const created = await createClient(store, { name: 'app', callback_hosts: ['app.example'] });
      expect(created?.apiKey).toMatch(/^cgk_/);
      expect(created?.webhookSecret).toMatch(/^whsec_/);
      expect(await createClient(store, { name: 'app', callback_hosts: ['x.example'] })).toBeNull();
      const [listed, ...others] = await store.list();
      expect(others).toEqual([]);
      expect(listed).toEqual(created?.client);
      // Only the key's hash is kept.
      expect(JSON.stringify(listed)).not.toContain(created?.apiKey);
    });

    it('changes a client in one step, and says when there is none', async () => {
      await createClient(store, { name: 'app', callback_hosts: ['app.example'] });
      const changed = await store.change('app', (c) => ({ ...c, rateLimitPerSec: 7 }));
      expect(changed?.rateLimitPerSec).toBe(7);
      expect((await store.list())[0]?.rateLimitPerSec).toBe(7);
      expect(await store.change('nobody', (c) => c)).toBeNull();
    });

    it('applies concurrent changes one after the other, losing none', async () => {
      await createClient(store, { name: 'app', callback_hosts: ['app.example'] });
      await Promise.all(Array.from({ length: 5 }, () => rotateKey(store, 'app', 60_000)));
      expect((await store.list())[0]?.keys).toHaveLength(6);
    });

    it('removes a client', async () => {
      await createClient(store, { name: 'app', callback_hosts: ['app.example'] });
      expect(await store.remove('app')).toBe(true);
      expect(await store.remove('app')).toBe(false);
      expect(await store.list()).toEqual([]);
    });
  });
}

clientStoreContract('SQLite', () => {
  const dir = tempDir();
  const store = createSqliteClientStore({ file: join(dir.path, 'clients.db') });
  return Promise.resolve({
    store,
    cleanup: async () => {
      await store.close();
      dir.remove();
    },
  });
});

describe.skipIf(!havePostgres)('PostgreSQL', () => {
  clientStoreContract('PostgreSQL', async () => {
    const schema = `cgtest_${randomBytes(4).toString('hex')}`;
    const store = await createPostgresClientStore({ url: DATABASE_URL, schema });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropSchema(DATABASE_URL, schema);
      },
    };
  });
});

describe('client keys and secrets over time', () => {
  it('keeps a rotated-out key and secret working for the overlap only', async () => {
    const dir = tempDir();
    const store = createSqliteClientStore({ file: join(dir.path, 'clients.db') });
    let now = 1_000_000;
    const registry = createClientRegistry(store, { now: () => now, refreshMs: 60_000 });
    try {
      const created = await createClient(
        store,
        { name: 'app', callback_hosts: ['a.example'] },
        now,
      );
      const rotated = await rotateKey(store, 'app', 10_000, now);
      const secret = await rotateSecret(store, 'app', 10_000, now + 1);
      await registry.refresh();
      expect(registry.authenticate(created!.apiKey)?.name).toBe('app');
      expect(registry.authenticate(rotated!.apiKey)?.name).toBe('app');
      expect(registry.secretsOf(created!.client.id)).toEqual([
        secret!.webhookSecret,
        created!.webhookSecret,
      ]);
      now += 10_001;
      expect(registry.authenticate(created!.apiKey)).toBeNull();
      expect(registry.authenticate(rotated!.apiKey)?.name).toBe('app');
      expect(registry.secretsOf(created!.client.id)).toEqual([secret!.webhookSecret]);
      expect(registry.authenticate('cgk_not-a-key')).toBeNull();
    } finally {
      registry.close();
      await store.close();
      dir.remove();
    }
  });
});
