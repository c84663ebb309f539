import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

/**
 * Where the tests find Redis and PostgreSQL. Every machine that runs the suite (CI included)
 * has both on their standard ports; TEST_REDIS_URL / TEST_DATABASE_URL point elsewhere.
 */
export const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL =
  process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** In CI a missing server is a failure, never a skip: a green run must mean the tests ran. */
const IN_CI = process.env['CI'] === 'true';

async function reachable(check: () => Promise<void>): Promise<boolean> {
  try {
    await check();
    return true;
  } catch {
    return false;
  }
}

async function redisUp(): Promise<boolean> {
  return reachable(async () => {
    const redis = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
    });
    try {
      await redis.connect();
      await redis.ping();
    } finally {
      redis.disconnect();
    }
  });
}

async function postgresUp(): Promise<boolean> {
  return reachable(async () => {
    const client = new pg.Client({
      connectionString: DATABASE_URL,
      connectionTimeoutMillis: 2_000,
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      await client.end().catch(() => {});
    }
  });
}

/**
 * Resolves to true when the server is reachable. When it is not: in CI, throws (the suite
 * fails); elsewhere, prints why and resolves false, so the caller's `describe.skipIf` skips.
 */
async function required(
  name: string,
  url: string,
  variable: string,
  up: () => Promise<boolean>,
): Promise<boolean> {
  if (await up()) return true;
  const message = `${name} is not reachable at ${url}`;
  if (IN_CI) throw new Error(`${message}; CI=true, so tests that need it fail instead of skipping`);
  console.warn(`SKIPPING ${name} tests: ${message} (set ${variable} to point elsewhere)`);
  return false;
}

/** Use at a test file's top level: `const haveRedis = await redisAvailable();` then
 * `describe.skipIf(!haveRedis)(…)`. */
export const redisAvailable = () => required('Redis', REDIS_URL, 'TEST_REDIS_URL', redisUp);
export const postgresAvailable = () =>
  required('PostgreSQL', DATABASE_URL, 'TEST_DATABASE_URL', postgresUp);

/** Deletes every key whose name contains `prefix` (a test's or benchmark's own). */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Drops a test's or benchmark's own PostgreSQL schema, with everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * What a distributed-mode test process needs besides its URLs: a key prefix and a schema of the
 * test's own, a token hash key and a webhook secret; `cleanup` deletes the keys and the schema.
 */
export function distributedSettings(): { env: Record<string, string>; cleanup(): Promise<void> } {
  const suffix = randomBytes(4).toString('hex');
  const prefix = `cgtest-${suffix}`;
  const schema = `cgtest_${suffix}`;
  return {
    env: {
      REDIS_KEY_PREFIX: prefix,
      DATABASE_SCHEMA: schema,
      TOKEN_HASH_KEY: randomBytes(24).toString('base64url'),
      WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    },
    async cleanup() {
      await deleteRedisKeys(REDIS_URL, prefix);
      await dropSchema(DATABASE_URL, schema);
    },
  };
}
