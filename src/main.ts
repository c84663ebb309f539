import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { ConfigError, type Config } from './config/config.js';
import { buildApi } from './api/server.js';
import { startMetricsServer } from './api/metrics-server.js';
import { startWorkerRole, type WorkerPart } from './worker/role.js';
import { createMetrics, mergedMetrics, type MetricsJson } from './lib/metrics.js';
import { startWorkerThread } from './worker/thread-host.js';
import { startWorkerStatusServer } from './worker/status-server.js';
import { createTracing } from './lib/tracing.js';
import type { CircuitState } from './lib/circuit-breaker.js';
import { checkCallbackUrl } from './callbacks/ssrf.js';
import { AUTHORIZE_PATH } from './contract/authorization.js';
import { OCPI_TOKENS_PATH } from './contract/ocpi.js';
import { startAuthServiceRole } from './acl-service/role.js';
import { listenUrl } from './lib/listen-url.js';
import { createTokenHasher } from './lib/token-hash.js';
import type { StationStore } from './stations/port.js';
import { bundledStationsPath, seedStations } from './stations/seed.js';
import {
  deadLettersOf,
  openAdapters,
  openClients,
  openStationStore,
  tokenHashKeyOf,
  webhookSecretsOf,
} from './wiring/adapters.js';
import { closeInReverse } from './lib/closers.js';

/** The roles a process can run (docs/distributed.md). `start` runs all of them. */
export type Role = 'api' | 'worker' | 'auth-service';

export interface Running {
  /** Where the public API listens, when this process runs it. */
  apiUrl?: string;
  /** Where the reference authorization service listens, when this process runs it. */
  authServiceUrl?: string;
  /** Where `/metrics` listens, when METRICS_PORT gives it a port of its own. */
  metricsUrl?: string;
  /** Graceful stop: no new requests, in-flight work finished, connections closed. */
  close(): Promise<void>;
}

export const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/**
 * The composition root: reads nothing but `config`, wires adapters into the roles asked for,
 * and returns a handle that stops them in the right order.
 */
export async function startChargegate(
  given: Config,
  roles: ReadonlySet<Role>,
  logger: FastifyBaseLogger,
): Promise<Running> {
  const config = withOcpiToken(given, roles);
  const running: Running = { close: async () => {} };
  const closers: (() => Promise<void>)[] = [];
  // Reverse start order: the API stops taking requests before the workers stop, and the
  // reference service outlives the workers that call it.
  const close = () =>
    closeInReverse(closers, (error) => logger.error({ err: error }, 'error during shutdown'));
  running.close = close;
  try {
    const hasher = createTokenHasher(tokenHashKeyOf(config));
    const metrics = createMetrics();
    const tracing = createTracing(config.tracing);
    // Pushed first, so it flushes the last spans after everything else has stopped.
    closers.push(() => tracing.shutdown());
    let authUrl = config.auth.url;

    if (roles.has('auth-service')) {
      const service = await startAuthServiceRole(config, { hasher, logger });
      closers.push(...service.closers);
      running.authServiceUrl = service.url;
      authUrl ??= service.url + servicePathOf(config);
    }

    if (!roles.has('api') && !roles.has('worker')) return running;

    const { queue, store } = await openAdapters(config);
    closers.push(
      () => queue.close(),
      () => store.close(),
    );
    const clients = await openClients(config, (error) =>
      logger.warn({ err: error }, 'reading the API clients failed; keeping the last ones'),
    );
    closers.push(() => clients.close());
    const stations = await openStations(config, logger);
    closers.push(() => stations.close());
    if (roles.has('api') && config.requireClients && !clients.registry.active) {
      throw new Error(
        'REQUIRE_CLIENTS is set but no API client exists: create one with `chargegate clients create`',
      );
    }

    let circuitState: (() => CircuitState) | undefined;
    let metricsJson: (() => Promise<MetricsJson>) | undefined;
    if (roles.has('worker')) {
      const target =
        authUrl ?? `http://127.0.0.1:${config.auth.servicePort}${servicePathOf(config)}`;
      if (config.auth.protocol === 'ocpi' && config.auth.ocpi.token === undefined) {
        throw new ConfigError([
          'AUTH_OCPI_TOKEN: required with AUTH_PROTOCOL=ocpi (the credentials token for the eMSP)',
        ]);
      }
      const webhookSecrets = webhookSecretsOf(config);
      if (useWorkerThread(config, roles)) {
        const start = (part: Exclude<WorkerPart, 'both'>) =>
          startWorkerThread(
            { config, authUrl: target, webhookSecrets, part },
            { logger, onCrash: workerThreadCrashed(logger) },
          );
        const deciding = await start('requests');
        const delivering = await start('callbacks');
        // Deciding stops first: the callbacks its last decisions queue are still delivered.
        closers.push(async () => {
          await deciding.stop();
          await delivering.stop();
        });
        circuitState = () => deciding.circuitState();
        metricsJson = async () =>
          mergedMetrics(
            metrics.registry,
            await Promise.all([deciding.metrics(), delivering.metrics()]),
          );
        logger.info('worker role runs in two worker threads: authorization and callbacks');
      } else {
        const worker = startWorkerRole(config, {
          queue,
          store,
          logger,
          metrics,
          tracer: tracing.tracer,
          authUrl: target,
          webhookSecrets,
          clients: clients.registry,
          stations,
        });
        closers.push(...worker.closers);
        circuitState = worker.circuitState;
        if (!roles.has('api') && config.workerPort !== undefined) {
          const status = await startWorkerStatusServer({
            port: config.workerPort,
            host: config.host,
            queue,
            store,
            metrics,
            circuitState: worker.circuitState,
            logger: logger.child({ role: 'worker' }),
          });
          closers.push(() => status.close());
          logger.info({ url: listenUrl(status) }, 'worker health and metrics listening');
        }
      }
    }

    if (roles.has('api')) {
      const app = await buildApi({
        queue,
        store,
        hasher,
        logger: logger.child({ role: 'api' }),
        maxBacklog: config.maxBacklog,
        checkCallbackUrl: (url) =>
          checkCallbackUrl(url, {
            allowPrivateNetworks: config.callbacks.allowPrivateNetworks,
            requireHttps: config.callbacks.requireHttps,
          }),
        limits: {
          requestTimeoutMs: config.http.requestTimeoutMs,
          maxConnections: config.http.maxConnections,
          maxConnectionsPerClient: config.http.maxConnectionsPerClient,
          acceptTimeoutMs: config.acceptTimeoutMs,
          shutdownTimeoutMs: config.shutdownTimeoutMs,
          ...(config.http.rateLimitPerSec === undefined
            ? {}
            : { rateLimitPerSec: config.http.rateLimitPerSec }),
        },
        serveMetrics: config.http.metricsPort === undefined,
        ...(config.adminToken === undefined
          ? {}
          : {
              admin: {
                adminToken: config.adminToken,
                deadLetters: deadLettersOf(config, queue, store),
                ...(circuitState === undefined ? {} : { circuitState }),
              },
            }),
        version: VERSION,
        clients: { store: clients.store, registry: clients.registry },
        stations: {
          store: stations,
          reservationLimits: {
            maxLengthMs: config.stations.reservationMaxLengthMs,
            maxAheadMs: config.stations.reservationMaxAheadMs,
          },
        },
        metrics,
        tracer: tracing.tracer,
        ...(metricsJson === undefined ? {} : { metricsJson }),
        ...(circuitState === undefined
          ? {}
          : { readinessDetails: () => ({ authorization_circuit: circuitState() }) }),
      });
      await app.listen({ port: config.port, host: config.host });
      closers.push(() => app.close());
      running.apiUrl = listenUrl(app);
      if (config.http.metricsPort !== undefined) {
        const server = await startMetricsServer({
          port: config.http.metricsPort,
          host: config.host,
          metrics,
          ...(metricsJson === undefined ? {} : { metricsJson }),
          logger: logger.child({ role: 'metrics' }),
        });
        closers.push(() => server.close());
        running.metricsUrl = listenUrl(server);
        logger.info({ url: running.metricsUrl }, 'metrics listening');
      }
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

/** The reference service's endpoint in the configured protocol. */
/** Ended and cancelled reservations are deleted this often, once older than SESSION_RETENTION. */
const RESERVATION_PURGE_INTERVAL_MS = 3_600_000;

/**
 * The station catalog, seeded when empty (STATIONS_FILE, or the bundled example in embedded
 * mode), with the hourly purge of reservations that ended long ago.
 */
async function openStations(config: Config, logger: FastifyBaseLogger): Promise<StationStore> {
  const store = await openStationStore(config);
  const seedFile =
    config.stations.file ?? (config.databaseUrl === undefined ? bundledStationsPath() : undefined);
  try {
    if (seedFile !== undefined) {
      const seeded = await seedStations(store, seedFile, Date.now());
      if (seeded > 0) logger.info({ stations: seeded, file: seedFile }, 'station catalog seeded');
    }
  } catch (error) {
    await store.close();
    throw error;
  }
  const purge = setInterval(() => {
    store.purgeEnded(Date.now() - config.sessionRetentionMs).then(
      (purged) => {
        if (purged > 0) logger.info({ reservations: purged }, 'ended reservations purged');
      },
      (error: unknown) => logger.warn({ err: error }, 'purging ended reservations failed'),
    );
  }, RESERVATION_PURGE_INTERVAL_MS);
  purge.unref();
  return {
    ...store,
    close: () => {
      clearInterval(purge);
      return store.close();
    },
  };
}

function servicePathOf(config: Config): string {
  return config.auth.protocol === 'ocpi' ? OCPI_TOKENS_PATH : AUTHORIZE_PATH;
}

/**
 * A process that runs the reference service for its own worker (no AUTH_SERVICE_URL) needs no
 * OCPI credentials token from the operator: both ends are here, so one is made up at start,
 * and nothing outside the process knows it.
 */
function withOcpiToken(config: Config, roles: ReadonlySet<Role>): Config {
  if (config.auth.protocol !== 'ocpi') return config;
  if (config.auth.ocpi.token !== undefined || config.auth.url !== undefined) return config;
  if (!roles.has('auth-service') || !roles.has('worker')) return config;
  const token = randomBytes(24).toString('base64url');
  return { ...config, auth: { ...config.auth, ocpi: { ...config.auth.ocpi, token } } };
}

/**
 * The all-in-one process runs its worker role in threads when there is a second core: the API's
 * event loop then only accepts requests, and deciding and delivering each run on a thread of
 * their own beside it (docs/performance.md, "Measured design choices", gives what the threads
 * gain). A process that runs only the worker role gains nothing from a thread.
 */
function useWorkerThread(config: Config, roles: ReadonlySet<Role>): boolean {
  if (!roles.has('api')) return false;
  if (config.workerThread === 'auto') return availableParallelism() > 1;
  return config.workerThread === 'true';
}

/** A dead worker thread leaves accepted work undecided: exit, so a supervisor restarts us. */
function workerThreadCrashed(logger: FastifyBaseLogger) {
  return (error: unknown) => {
    logger.fatal({ err: error }, 'worker thread died; exiting so that the process is restarted');
    process.exit(70);
  };
}
