import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Queue } from '../queue/port.js';
import type { DecisionStore } from '../store/port.js';
import { createSqliteQueue } from '../queue/sqlite.js';
import { createSqliteStore } from '../store/sqlite.js';
import { createRedisQueue, DEFAULT_MAX_LENGTH } from '../queue/redis.js';
import { createPostgresStore } from '../store/postgres.js';
import { generateSecret } from '../contract/signing.js';
import { createDeadLetters, type DeadLetters } from '../callbacks/dead-letters.js';
import { loadOrCreateSecret } from '../lib/secrets.js';
import type { ClientStore } from '../clients/port.js';
import { createSqliteClientStore } from '../clients/sqlite.js';
import { createPostgresClientStore } from '../clients/postgres.js';
import { createClientRegistry, type ClientRegistry } from '../clients/registry.js';
import type { StationStore } from '../stations/port.js';
import { createSqliteStationStore } from '../stations/sqlite.js';
import { createPostgresStationStore } from '../stations/postgres.js';

/**
 * Choosing and opening the adapters and secrets a process needs, from the config alone: shared
 * by the composition root (`main.ts`), the worker thread and the CLI's operator commands.
 */

/** File names inside DATA_DIR. */
export const FILES = {
  queue: 'queue.db',
  store: 'store.db',
  acl: 'acl.db',
  clients: 'clients.db',
  stations: 'stations.db',
  webhookSecret: 'webhook-secret',
  tokenHashKey: 'token-hash-key',
};

/** TOKEN_HASH_KEY, or the key generated once and kept in DATA_DIR. */
export function tokenHashKeyOf(config: Config): string {
  return (
    config.tokenHashKey ??
    loadOrCreateSecret(config.dataDir, FILES.tokenHashKey, () =>
      randomBytes(32).toString('base64url'),
    )
  );
}

/** WEBHOOK_SECRET (one or more), or the secret generated once and kept in DATA_DIR. */
export function webhookSecretsOf(config: Config): string[] {
  return (
    config.callbacks.secrets ?? [
      loadOrCreateSecret(config.dataDir, FILES.webhookSecret, generateSecret),
    ]
  );
}

export function deadLettersOf(config: Config, queue: Queue, store: DecisionStore): DeadLetters {
  return createDeadLetters({ queue, store, retentionMs: config.callbacks.deadLetterRetentionMs });
}

/**
 * How many messages a queue (a Redis partition, the embedded queue's topic) holds at most: ten times MAX_BACKLOG, and never
 * fewer than a million. Far above the requests the API admits (MAX_BACKLOG undecided in all
 * partitions together); the callbacks waiting out their retries (up to an hour of traffic to a
 * receiver that is down) are bounded only by it. It bounds Redis's memory when consumers are
 * gone for long.
 */
export function redisQueueCap(maxBacklog: number): number {
  return Math.max(DEFAULT_MAX_LENGTH, 10 * maxBacklog);
}

/**
 * Embedded mode: SQLite files in DATA_DIR. Distributed mode (REDIS_URL and DATABASE_URL):
 * Redis Streams and PostgreSQL. Nothing else changes.
 */
export async function openAdapters(
  config: Config,
): Promise<{ queue: Queue; store: DecisionStore }> {
  if (config.databaseUrl !== undefined && config.redisUrl === undefined) {
    throw new Error('the api and worker roles need REDIS_URL with DATABASE_URL (distributed mode)');
  }
  if (config.redisUrl !== undefined && config.databaseUrl !== undefined) {
    const queue = createRedisQueue({
      url: config.redisUrl,
      prefix: config.redisKeyPrefix,
      partitions: config.queuePartitions,
      maxLength: redisQueueCap(config.maxBacklog),
      commandTimeoutMs: config.redisCommandTimeoutMs,
    });
    try {
      const store = await createPostgresStore({
        url: config.databaseUrl,
        schema: config.databaseSchema,
        statementTimeoutMs: config.databaseStatementTimeoutMs,
      });
      return { queue, store };
    } catch (error) {
      await queue.close();
      throw error;
    }
  }
  const dir = resolve(config.dataDir);
  return {
    queue: createSqliteQueue({
      file: join(dir, FILES.queue),
      synchronous: config.sqliteSynchronous,
      maxLength: redisQueueCap(config.maxBacklog),
    }),
    store: createSqliteStore({
      file: join(dir, FILES.store),
      synchronous: config.sqliteSynchronous,
    }),
  };
}

/** Where the API clients live: beside the decision store, in either mode. */
export async function openClientStore(config: Config): Promise<ClientStore> {
  if (config.databaseUrl !== undefined) {
    return createPostgresClientStore({ url: config.databaseUrl, schema: config.databaseSchema });
  }
  return createSqliteClientStore({
    file: join(resolve(config.dataDir), FILES.clients),
    synchronous: config.sqliteSynchronous,
  });
}

/** The client store and a registry over it, read once before this resolves. */
export async function openClients(
  config: Config,
  onError: (error: unknown) => void,
): Promise<{ store: ClientStore; registry: ClientRegistry; close(): Promise<void> }> {
  const store = await openClientStore(config);
  const registry = createClientRegistry(store, { onError });
  await registry.ready();
  return {
    store,
    registry,
    close: async () => {
      registry.close();
      await store.close();
    },
  };
}

/** Where the station catalog and reservations live: beside the decision store, in either mode. */
export async function openStationStore(config: Config): Promise<StationStore> {
  if (config.databaseUrl !== undefined) {
    return createPostgresStationStore({ url: config.databaseUrl, schema: config.databaseSchema });
  }
  return createSqliteStationStore({
    file: join(resolve(config.dataDir), FILES.stations),
    synchronous: config.sqliteSynchronous,
  });
}
