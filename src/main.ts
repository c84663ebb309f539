import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { Queue } from './queue/port.js';
import type { DecisionStore } from './store/port.js';
import { createSqliteQueue } from './queue/sqlite.js';
import { createSqliteStore } from './store/sqlite.js';
import { createRedisQueue } from './queue/redis.js';
import { createPostgresStore } from './store/postgres.js';
import { buildApi } from './api/server.js';
import { generateSecret } from './callbacks/signing.js';
import { startWorkerRole } from './worker/role.js';
import { createMetrics } from './lib/metrics.js';
import type { CircuitState } from './authorization/circuit-breaker.js';
import { checkCallbackUrl } from './callbacks/ssrf.js';
import { createDeadLetters, type DeadLetters } from './callbacks/dead-letters.js';
import { createAuthService } from './authorization/service.js';
import { seedAcl } from './authorization/acl.js';
import { bundledAclPath, loadAclFile } from './authorization/acl-file.js';
import { createSqliteAclStore } from './authorization/acl-sqlite.js';
import { createPostgresAclStore } from './authorization/acl-postgres.js';
import { AUTHORIZE_PATH } from './authorization/contract.js';
import { createTokenHasher, type TokenHasher } from './lib/token-hash.js';
import { loadOrCreateSecret } from './lib/secrets.js';

/** The roles a process can run (DESIGN §5). `start` runs all of them. */
export type Role = 'api' | 'worker' | 'auth-service';

export interface Running {
  /** Where the public API listens, when this process runs it. */
  apiUrl?: string;
  /** Where the reference authorization service listens, when this process runs it. */
  authServiceUrl?: string;
  /** Graceful stop: no new requests, in-flight work finished, connections closed. */
  close(): Promise<void>;
}

export const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** File names inside DATA_DIR. */
const FILES = {
  queue: 'queue.db',
  store: 'store.db',
  webhookSecret: 'webhook-secret',
  tokenHashKey: 'token-hash-key',
};

function listenUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string')
    throw new Error('server is not listening on TCP');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
}

function tokenHasher(config: Config): TokenHasher {
  const key =
    config.tokenHashKey ??
    loadOrCreateSecret(config.dataDir, FILES.tokenHashKey, () =>
      randomBytes(32).toString('base64url'),
    );
  return createTokenHasher(key);
}

export function deadLettersOf(config: Config, queue: Queue, store: DecisionStore): DeadLetters {
  return createDeadLetters({ queue, store, retentionMs: config.callbacks.deadLetterRetentionMs });
}

/**
 * Embedded mode: SQLite files in DATA_DIR. Distributed mode (REDIS_URL and DATABASE_URL, which
 * the config requires together): Redis Streams and PostgreSQL. Nothing else changes.
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
    });
    try {
      const store = await createPostgresStore({
        url: config.databaseUrl,
        schema: config.databaseSchema,
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
    }),
    store: createSqliteStore({
      file: join(dir, FILES.store),
      synchronous: config.sqliteSynchronous,
    }),
  };
}

/**
 * The composition root: reads nothing but `config`, wires adapters into the roles asked for,
 * and returns a handle that stops them in the right order.
 */
export async function startChargegate(
  config: Config,
  roles: ReadonlySet<Role>,
  logger: FastifyBaseLogger,
): Promise<Running> {
  const running: Running = { close: async () => {} };
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    // Reverse start order: the API stops taking requests before the workers stop, and the
    // reference service outlives the workers that call it.
    for (const step of closers.reverse()) {
      try {
        await step();
      } catch (error) {
        logger.error({ err: error }, 'error during shutdown');
      }
    }
  };
  running.close = close;
  try {
    const hasher = tokenHasher(config);
    const metrics = createMetrics();
    let authUrl = config.auth.url;

    if (roles.has('auth-service')) {
      const aclPath = config.auth.aclFile ?? bundledAclPath();
      // The file is validated at every start, but imported only into an empty store, so that
      // changes made through the admin API survive restarts.
      const aclEntries = await loadAclFile(aclPath, hasher);
      const aclDb = join(resolve(config.dataDir), 'acl.db');
      // Distributed mode keeps the ACL in PostgreSQL, so every auth-service process shares it.
      const acl =
        config.databaseUrl === undefined
          ? createSqliteAclStore({ file: aclDb })
          : await createPostgresAclStore({
              url: config.databaseUrl,
              schema: config.databaseSchema,
            });
      // Pushed first, so it closes after the service that reads it.
      closers.push(() => acl.close());
      const seeded = await seedAcl(acl, aclEntries);
      const service = createAuthService({
        acl,
        hasher,
        logger: logger.child({ role: 'auth-service' }),
        adminToken: config.adminToken,
      });
      await service.listen({ port: config.auth.servicePort, host: config.auth.serviceHost });
      closers.push(() => service.close());
      running.authServiceUrl = listenUrl(service);
      logger.info(
        {
          url: running.authServiceUrl,
          acl_file: aclPath,
          acl_db: config.databaseUrl === undefined ? aclDb : 'postgresql',
          acl_seeded: seeded,
        },
        'reference authorization service listening',
      );
      authUrl ??= running.authServiceUrl + AUTHORIZE_PATH;
    }

    if (!roles.has('api') && !roles.has('worker')) return running;

    const { queue, store } = await openAdapters(config);
    closers.push(
      () => queue.close(),
      () => store.close(),
    );

    let circuitState: (() => CircuitState) | undefined;
    if (roles.has('worker')) {
      const target = authUrl ?? `http://127.0.0.1:${config.auth.servicePort}${AUTHORIZE_PATH}`;
      const webhookSecrets = config.callbacks.secrets ?? [
        loadOrCreateSecret(config.dataDir, FILES.webhookSecret, generateSecret),
      ];
      const worker = startWorkerRole(config, {
        queue,
        store,
        hasher,
        logger,
        metrics,
        authUrl: target,
        webhookSecrets,
      });
      closers.push(...worker.closers);
      circuitState = worker.circuitState;
    }

    if (roles.has('api')) {
      const app = await buildApi({
        queue,
        store,
        hasher,
        logger: logger.child({ role: 'api' }),
        maxBacklog: config.maxBacklog,
        checkCallbackUrl: (url) =>
          checkCallbackUrl(url, { allowPrivateNetworks: config.callbacks.allowPrivateNetworks }),
        ...(config.adminToken === undefined
          ? {}
          : {
              admin: {
                adminToken: config.adminToken,
                deadLetters: deadLettersOf(config, queue, store),
              },
            }),
        version: VERSION,
        metrics,
        ...(circuitState === undefined
          ? {}
          : { readinessDetails: () => ({ authorization_circuit: circuitState() }) }),
      });
      await app.listen({ port: config.port, host: config.host });
      closers.push(() => app.close());
      running.apiUrl = listenUrl(app);
      logger.info(
        { url: running.apiUrl, data_dir: resolve(config.dataDir) },
        'public API listening',
      );
    }
    return running;
  } catch (error) {
    await close();
    throw error;
  }
}
