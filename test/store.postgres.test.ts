import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Migration } from '../src/lib/migration-files.js';
import { migrate } from '../src/lib/pg-migrations.js';
import type { DecisionStore, NewSession } from '../src/store/port.js';
import {
  createPostgresStore,
  STORE_MIGRATIONS,
  STORE_MIGRATIONS_TABLE,
} from '../src/store/postgres.js';
import { storeContract } from './contract/store.contract.js';
import { DATABASE_URL, postgresAvailable } from './helpers/servers.js';

const havePostgres = await postgresAvailable();

/** Each test works in its own schema, so files and tests running at once never meet. */
const schemaName = () => `chargegate_test_${randomUUID().replaceAll('-', '')}`;
const quote = (identifier: string) => pg.escapeIdentifier(identifier);
/** Few connections per store: the contract creates one store per test, several at a time. */
const TEST_POOL_SIZE = 4;
const TEST_LOCK_KEY = 42;

function newSession(overrides: Partial<NewSession> = {}): NewSession {
  return {
    requestId: randomUUID(),
    stationId: randomUUID(),
    tokenHash: 'c'.repeat(64),
    callbackUrl: 'https://client.example/cb',
    acceptedAt: 1_750_000_000_000,
    ...overrides,
  };
}

describe.skipIf(!havePostgres)('PostgreSQL', () => {
  let admin: pg.Pool;
  const schemas: string[] = [];
  const stores: DecisionStore[] = [];

  beforeAll(() => {
    admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  });
  afterAll(() => admin.end());

  async function dropSchema(schema: string): Promise<void> {
    await admin.query(`DROP SCHEMA IF EXISTS ${quote(schema)} CASCADE`);
  }

  /** Closed by afterEach; the caller registers the schema for dropping. */
  async function openStore(schema: string, poolSize = TEST_POOL_SIZE): Promise<DecisionStore> {
    const store = await createPostgresStore({ url: DATABASE_URL, schema, poolSize });
    stores.push(store);
    return store;
  }

  async function versions(schema: string, table = STORE_MIGRATIONS_TABLE): Promise<number[]> {
    const { rows } = await admin.query<{ version: number }>(
      `SELECT version FROM ${quote(schema)}.${quote(table)} ORDER BY version`,
    );
    return rows.map((row) => row.version);
  }

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await Promise.all(schemas.splice(0).map(dropSchema));
  });

  storeContract('PostgreSQL', async () => {
    const schema = schemaName();
    await admin.query(`CREATE SCHEMA ${quote(schema)}`);
    const store = await createPostgresStore({
      url: DATABASE_URL,
      schema,
      poolSize: TEST_POOL_SIZE,
    });
    const cleanup = async () => {
      await store.close();
      await dropSchema(schema);
    };
    return { store, cleanup };
  });

  describe('PostgreSQL store', () => {
    it('applies migrations once when several processes start at once', async () => {
      // Not created beforehand: creating the schema races too.
      const schema = schemaName();
      schemas.push(schema);
      const starters = Array.from({ length: 5 }, () => openStore(schema, 2));
      const opened = await Promise.all(starters);
      expect(await versions(schema)).toEqual(STORE_MIGRATIONS.map((m) => m.version));

      const session = newSession();
      await opened[0]?.createSession(session);
      for (const store of opened) {
        expect((await store.getSession(session.requestId))?.requestId).toBe(session.requestId);
      }
    });

    it('upgrades a version 1 database: its decisions came from the service', async () => {
      const schema = schemaName();
      schemas.push(schema);
      const first = STORE_MIGRATIONS.filter((m) => m.version === 1);
      await migrate(admin, {
        schema,
        table: STORE_MIGRATIONS_TABLE,
        migrations: first,
        lockKey: TEST_LOCK_KEY,
      });
      const [decided, pending] = [randomUUID(), randomUUID()];
      await admin.query(
        `INSERT INTO ${quote(schema)}.sessions (request_id, station_id, token_hash, callback_url,
           accepted_at, decision, reason)
         VALUES ($1, 's', 'h', 'https://client.example/cb', 1, 'allowed', 'active'),
           ($2, 's', 'h', 'https://client.example/cb', 1, 'pending', NULL)`,
        [decided, pending],
      );
      const store = await openStore(schema);
      expect(await versions(schema)).toEqual(STORE_MIGRATIONS.map((m) => m.version));
      expect(await store.getSession(decided)).toMatchObject({
        decisionSource: 'service',
        details: { authorizationReference: null, allowedEvses: null, displayText: null },
      });
      expect((await store.getSession(pending))?.decisionSource).toBeNull();
    });

    it('refuses a database migrated by a newer release', async () => {
      const schema = schemaName();
      schemas.push(schema);
      const first = await openStore(schema);
      await first.close();
      await admin.query(
        `INSERT INTO ${quote(schema)}.${quote(STORE_MIGRATIONS_TABLE)} (version, name) VALUES (99, 'later')`,
      );
      await expect(createPostgresStore({ url: DATABASE_URL, schema })).rejects.toThrow(
        /migration 99, newer than this release knows/,
      );
    });

    it('keeps idempotency keys unique across concurrent creators', async () => {
      const schema = schemaName();
      schemas.push(schema);
      const [one, two] = [await openStore(schema), await openStore(schema)];
      const contenders = Array.from({ length: 20 }, () => newSession({ idempotencyKey: 'shared' }));
      const results = await Promise.all(
        contenders.map((session, i) => (i % 2 === 0 ? one : two).createSession(session)),
      );

      const winners = contenders.filter((_, i) => results[i]?.created === true);
      expect(winners).toHaveLength(1);
      const winnerId = winners[0]?.requestId;
      for (const result of results) {
        if (!result.created) expect(result.existing.requestId).toBe(winnerId);
      }
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${quote(schema)}.sessions`,
      );
      expect(rows[0]?.n).toBe(1);
    });

    it('keeps sessions across reopening and stores durations as whole ms', async () => {
      const schema = schemaName();
      schemas.push(schema);
      const session = newSession({ idempotencyKey: 'persisted', requestHash: 'h' });
      const first = await openStore(schema);
      await first.createSession(session);
      const decision = { decision: 'invalid', reason: 'unknown_token', decidedAt: 1_010 } as const;
      await first.recordDecision(session.requestId, { ...decision, authLatencyMs: 4.6 });
      const attempt = {
        attempt: 1,
        startedAt: 1_020,
        durationMs: 30.2,
        statusCode: 200,
        error: null,
        responseSnippet: 'ok',
      };
      await first.recordCallbackAttempt(session.requestId, attempt, {
        state: 'delivered',
        at: 1_050,
      });
      await first.close();

      const reopened = await openStore(schema);
      expect(await reopened.getSession(session.requestId)).toMatchObject({
        ...decision,
        authLatencyMs: 5,
        callback: { state: 'delivered', attempts: 1, deliveredAt: 1_050 },
      });
      expect(await reopened.listCallbackAttempts(session.requestId)).toEqual([
        { ...attempt, durationMs: 30 },
      ]);
      expect(await versions(schema)).toEqual(STORE_MIGRATIONS.map((m) => m.version));
    });

    it('runs the calls of one turn as one statement each kind, not one per call', async () => {
      const schema = schemaName();
      schemas.push(schema);
      const store = await openStore(schema);
      const sessions = Array.from({ length: 20 }, () => newSession());
      const texts: string[] = [];
      // Records each statement's text, then runs it as usual.
      const original: (...args: unknown[]) => unknown = Reflect.get(pg.Pool.prototype, 'query');
      const spy = vi.spyOn(pg.Pool.prototype, 'query').mockImplementation(function (
        this: pg.Pool,
        ...args: unknown[]
      ) {
        const first = args[0];
        texts.push(
          typeof first === 'object' && first !== null
            ? String((first as { text?: unknown }).text)
            : String(first),
        );
        return original.apply(this, args);
      });
      try {
        // Half of them with an idempotency key: keyed and keyless creates share the statement.
        await Promise.all(
          sessions.map((s, i) =>
            store.createSession(i % 2 === 0 ? s : { ...s, idempotencyKey: `key-${i}` }),
          ),
        );
        await Promise.all(sessions.map((s) => store.getSession(s.requestId)));
        const decided = {
          decision: 'allowed',
          reason: 'active',
          authLatencyMs: 1,
          decidedAt: 2,
        } as const;
        await Promise.all(sessions.map((s) => store.recordDecision(s.requestId, decided)));
        const attempt = {
          attempt: 1,
          startedAt: 3,
          durationMs: 4,
          statusCode: 204,
          error: null,
          responseSnippet: null,
        };
        await Promise.all(
          sessions.map((s) =>
            store.recordCallbackAttempt(s.requestId, attempt, { state: 'delivered', at: 5 }),
          ),
        );
      } finally {
        spy.mockRestore();
      }
      // Four statements for eighty calls; a batch that failed would show a statement per call.
      expect(texts).toHaveLength(4);
      expect(texts.every((text) => text.includes('unnest') || text.includes('ANY'))).toBe(true);
    });

    it('fails ping once closed', async () => {
      const schema = schemaName();
      schemas.push(schema);
      const store = await openStore(schema);
      await store.close();
      await expect(store.ping()).rejects.toThrow(/closed/);
    });
  });

  describe('migration runner', () => {
    const table = 'runner_migrations';
    const create = (version: number, name: string): Migration => ({
      version,
      name,
      sql: `CREATE TABLE ${name} (id integer)`,
    });
    const run = (schema: string, migrations: Migration[]) =>
      migrate(admin, { schema, table, migrations, lockKey: TEST_LOCK_KEY });

    it('applies only the missing migrations, in order, each once', async () => {
      const schema = schemaName();
      schemas.push(schema);
      const all = [create(1, 'a'), create(2, 'b'), create(5, 'c')];
      expect(await run(schema, all.slice(0, 1))).toEqual({ applied: [1] });
      expect(await run(schema, all)).toEqual({ applied: [2, 5] });
      expect(await run(schema, all)).toEqual({ applied: [] });
      expect(await versions(schema, table)).toEqual([1, 2, 5]);
    });

    it('rolls back a failing migration together with its history row', async () => {
      const schema = schemaName();
      schemas.push(schema);
      const failing = {
        version: 2,
        name: 'fails',
        sql: 'CREATE TABLE half (id integer); SELECT 1/0',
      };
      await expect(run(schema, [create(1, 'a'), failing])).rejects.toThrow(/division by zero/);
      expect(await versions(schema, table)).toEqual([1]);
      const { rows } = await admin.query('SELECT to_regclass($1) AS half', [
        `${quote(schema)}.half`,
      ]);
      expect(rows).toEqual([{ half: null }]);
    });

    it('refuses migrations given out of order', async () => {
      await expect(run(schemaName(), [create(2, 'b'), create(1, 'a')])).rejects.toThrow(
        /Migration 1 \(a\) is not a positive version above 2/,
      );
    });
  });
});
