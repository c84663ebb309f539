import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AclEntry, AclEntryStatus, AclStore } from '../../src/acl-service/acl.js';
import {
  ACL_MIGRATIONS,
  ACL_MIGRATIONS_TABLE,
  createPostgresAclStore,
} from '../../src/acl-service/acl-postgres.js';
import type { DecisionStore } from '../../src/store/port.js';
import {
  createPostgresStore,
  STORE_MIGRATIONS,
  STORE_MIGRATIONS_TABLE,
} from '../../src/store/postgres.js';
import { DATABASE_URL, postgresAvailable } from '../helpers/servers.js';
import { aclStoreContract } from './acl-store.contract.js';

const havePostgres = await postgresAvailable();

/** Each test works in its own schema, so files and tests running at once never meet. */
const schemaName = () => `chargegate_acl_test_${randomUUID().replaceAll('-', '')}`;
const quote = (identifier: string) => pg.escapeIdentifier(identifier);
/** Few connections per store: the contract creates one store per test, several at a time. */
const TEST_POOL_SIZE = 4;

const hash = (n: number) => n.toString(16).padStart(64, '0');
const entry = (n: number, overrides: Partial<AclEntry> = {}): AclEntry => ({
  tokenHash: hash(n),
  status: 'active',
  ...overrides,
});

describe.skipIf(!havePostgres)('PostgreSQL ACL', () => {
  let admin: pg.Pool;
  const schemas: string[] = [];
  const closers: (() => Promise<void>)[] = [];

  beforeAll(() => {
    admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  });
  afterAll(() => admin.end());

  async function dropSchema(schema: string): Promise<void> {
    await admin.query(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`);
  }

  /** A schema dropped, with every store opened on it, after the test. */
  function freshSchema(): string {
    const schema = schemaName();
    schemas.push(schema);
    return schema;
  }

  async function openAcl(schema: string, poolSize = TEST_POOL_SIZE): Promise<AclStore> {
    const store = await createPostgresAclStore({ url: DATABASE_URL, schema, poolSize });
    closers.push(() => store.close());
    return store;
  }

  async function openDecisions(schema: string): Promise<DecisionStore> {
    const store = await createPostgresStore({ url: DATABASE_URL, schema, poolSize: 2 });
    closers.push(() => store.close());
    return store;
  }

  async function versions(schema: string, table: string): Promise<number[]> {
    const { rows } = await admin.query<{ version: number }>(
      `SELECT version FROM ${quote(schema)}.${quote(table)} ORDER BY version`,
    );
    return rows.map((row) => row.version);
  }

  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
    await Promise.all(schemas.splice(0).map(dropSchema));
  });

  aclStoreContract('PostgreSQL', async (now) => {
    const schema = schemaName();
    const store = await createPostgresAclStore({
      url: DATABASE_URL,
      schema,
      poolSize: TEST_POOL_SIZE,
      now,
    });
    const cleanup = async () => {
      await store.close();
      await dropSchema(schema);
    };
    return { store, cleanup };
  });

  describe('PostgreSQL ACL store', () => {
    it('applies its migrations once when several auth-service processes start at once', async () => {
      // Not created beforehand: creating the schema races too.
      const schema = freshSchema();
      const opened = await Promise.all(Array.from({ length: 5 }, () => openAcl(schema, 2)));
      expect(await versions(schema, ACL_MIGRATIONS_TABLE)).toEqual(
        ACL_MIGRATIONS.map((m) => m.version),
      );
      const result = await opened[0]?.create(entry(1));
      for (const store of opened) {
        expect((await store.find(hash(1)))?.id).toBe(result?.created ? result.entry.id : 'none');
      }
    });

    it('shares a schema with the decision store without conflict', async () => {
      // Not created beforehand: both migration sets race to create it, and one must win cleanly.
      const schema = freshSchema();
      const [decisions, acl] = await Promise.all([openDecisions(schema), openAcl(schema)]);
      expect(await versions(schema, STORE_MIGRATIONS_TABLE)).toEqual(
        STORE_MIGRATIONS.map((m) => m.version),
      );
      expect(await versions(schema, ACL_MIGRATIONS_TABLE)).toEqual(
        ACL_MIGRATIONS.map((m) => m.version),
      );
      // Restarts: neither refuses the other's history.
      const [decisionsAgain, aclAgain] = await Promise.all([
        openDecisions(schema),
        openAcl(schema),
      ]);
      const requestId = randomUUID();
      await decisions.createSession({
        requestId,
        stationId: randomUUID(),
        tokenHash: hash(1),
        callbackUrl: 'https://client.example/cb',
        acceptedAt: 1_750_000_000_000,
      });
      await acl.create(entry(1));
      expect((await decisionsAgain.getSession(requestId))?.tokenHash).toBe(hash(1));
      expect(await aclAgain.find(hash(1))).toMatchObject({ status: 'active' });
      await Promise.all([decisions.ping(), acl.ping()]);
    });

    it('keeps one entry per token across concurrent creators in two processes', async () => {
      const schema = freshSchema();
      const [one, two] = [await openAcl(schema), await openAcl(schema)];
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? one : two).create(entry(1, { note: `try ${i}` })),
        ),
      );
      const winners = results.flatMap((result) => (result.created ? [result.entry.id] : []));
      expect(winners).toHaveLength(1);
      for (const result of results) {
        if (!result.created) expect(result.existingId).toBe(winners[0]);
      }
      expect(await one.count()).toBe(1);
    });

    it('shows a write made through another process to the next find, without caching', async () => {
      const schema = freshSchema();
      const [reader, writer] = [await openAcl(schema), await openAcl(schema)];
      expect(await reader.find(hash(1))).toBeUndefined();
      const created = await writer.create(entry(1));
      const id = created.created ? created.entry.id : '';
      expect(await reader.find(hash(1))).toMatchObject({ status: 'active' });
      await writer.update(id, { status: 'blocked' });
      expect(await reader.find(hash(1))).toMatchObject({ status: 'blocked' });
      await writer.delete(id);
      expect(await reader.find(hash(1))).toBeUndefined();
    });

    it('rolls a failing import back entirely', async () => {
      const store = await openAcl(freshSchema());
      await store.create(entry(1));
      const bogus = entry(3, { status: 'paused' as AclEntryStatus });
      const entries = [entry(1, { status: 'blocked' }), entry(2), bogus];
      await expect(store.importEntries(entries, { mode: 'replace' })).rejects.toThrow(/check/);
      expect(await store.count()).toBe(1);
      expect(await store.find(hash(1))).toMatchObject({ status: 'active' });
    });

    it('counts two processes seeding at once as one import and one repeat', async () => {
      const schema = freshSchema();
      const [one, two] = [await openAcl(schema), await openAcl(schema)];
      const entries = Array.from({ length: 200 }, (_, i) => entry(i + 1, { note: `n${i}` }));
      const results = await Promise.all([
        one.importEntries(entries, { mode: 'upsert' }),
        two.importEntries(entries, { mode: 'upsert' }),
      ]);
      const counts = results.map(({ created, unchanged }) => [created, unchanged]);
      expect(counts.sort()).toEqual([
        [0, 200],
        [200, 0],
      ]);
      expect(await one.count()).toBe(200);
    });

    it('refuses a schema whose ACL history is newer than this release', async () => {
      const schema = freshSchema();
      await (await openAcl(schema)).close();
      await admin.query(
        `INSERT INTO ${quote(schema)}.${quote(ACL_MIGRATIONS_TABLE)} (version, name) VALUES (99, 'later')`,
      );
      await expect(createPostgresAclStore({ url: DATABASE_URL, schema })).rejects.toThrow(
        /migration 99, newer than this release knows/,
      );
    });

    it('stores token hashes and sorted station lists, nothing more about the token', async () => {
      const schema = freshSchema();
      const store = await openAcl(schema);
      await store.create(entry(1, { stations: new Set(['b', 'a']) }));
      const { rows } = await admin.query(
        `SELECT token_hash, stations FROM ${quote(schema)}.acl_entries`,
      );
      expect(rows).toEqual([{ token_hash: hash(1), stations: ['a', 'b'] }]);
    });
  });
});
