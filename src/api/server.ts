import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { FastifyBaseLogger, FastifyError } from 'fastify';
import type { Queue } from '../queue/port.js';
import type { ClientStore } from '../clients/port.js';
import type { ClientRegistry } from '../clients/registry.js';
import type { DecisionStore } from '../store/port.js';
import type { TokenHasher } from '../lib/token-hash.js';
import { createIntake } from './intake.js';
import { errorToProblem, instanceOf, problem, sendProblem } from '../http/problem.js';
import { registerHealthRoutes, type ReadinessDetails } from '../http/health.js';
import { registerOpenApi } from './openapi.js';
import { registerSessionRoutes, BODY_LIMIT_BYTES } from './sessions.js';
import type { CallbackUrlCheck } from './validate.js';
import type { DeadLetters } from '../callbacks/dead-letters.js';
import { trace, type Tracer } from '@opentelemetry/api';
import { adminGuard, registerAdminRoutes } from './admin.js';
import { registerStationRoutes } from './stations.js';
import { registerReservationRoutes } from './reservations.js';
import type { StationStore } from '../stations/port.js';
import { registerConsole } from './console/routes.js';
import type { CircuitState } from '../lib/circuit-breaker.js';
import { exposition, type Metrics, type MetricsJson } from '../lib/metrics.js';
import { registerQueueGauges } from '../queue/metrics.js';
import { SESSIONS_PATH } from './sessions.js';
import { closeConnectionsOnDrain } from '../http/drain-connections.js';
import type { TypeBoxTypeProvider } from '../http/type-provider.js';
import { acceptJsonOnly } from '../http/json-body.js';
import { forceCloseAfter, limitConnections } from '../http/connection-guard.js';
import { ClientRateLimit } from '../lib/client-limits.js';
import {
  DEFAULT_ACCEPT_TIMEOUT_MS,
  DEFAULT_HTTP_MAX_CONNECTIONS,
  DEFAULT_HTTP_MAX_CONNECTIONS_PER_CLIENT,
  DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
} from '../config/config.js';

/** What the public API allows its clients; every field has the configuration's default. */
export interface ApiLimits {
  /** The whole request must arrive within this, or the connection is closed (408). */
  requestTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  /** Requests a second per client address on the public routes; unset: no limit. */
  rateLimitPerSec?: number;
  /** A POST is stored within this or refused (`503`), and then never stored. */
  acceptTimeoutMs: number;
  /** After this, `close()` ends every connection still open, answered or not. */
  shutdownTimeoutMs: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  requestTimeoutMs: DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
  maxConnections: DEFAULT_HTTP_MAX_CONNECTIONS,
  maxConnectionsPerClient: DEFAULT_HTTP_MAX_CONNECTIONS_PER_CLIENT,
  acceptTimeoutMs: DEFAULT_ACCEPT_TIMEOUT_MS,
  shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
};

/** How often Node checks connections against the request timeout (its default is 30 s). */
const CONNECTION_CHECK_INTERVAL_MS = 1_000;

export interface ApiDependencies {
  queue: Queue;
  store: DecisionStore;
  hasher: TokenHasher;
  logger: FastifyBaseLogger;
  maxBacklog: number;
  checkCallbackUrl: CallbackUrlCheck;
  version: string;
  readinessDetails?: ReadinessDetails;
  /** Traces; a no-op tracer when absent. */
  tracer?: Tracer;
  /** The process's metrics, served at `/metrics`. */
  metrics: Metrics;
  /** The metrics, when more than this thread's registry contributes (worker thread). */
  metricsJson?: () => Promise<MetricsJson>;
  /** Present when ADMIN_TOKEN is set: the admin API and the operator console are registered.
   * `circuitState` is the worker's breaker, when this process runs the worker role. */
  admin?: { adminToken: string; deadLetters: DeadLetters; circuitState?: () => CircuitState };
  limits?: Partial<ApiLimits>;
  /** API clients: with at least one, the public API needs a client's key (`callers.ts`). */
  clients?: { store: ClientStore; registry: ClientRegistry };
  /** The station catalog and reservations (`/api/v1/stations`, `/api/v1/reservations`). */
  stations?: {
    store: StationStore;
    reservationLimits: { maxLengthMs: number; maxAheadMs: number };
  };
  /** Serve `/metrics` here (default); false when it has a port of its own (METRICS_PORT). */
  serveMetrics?: boolean;
}

/** Builds the public API. Listening is the caller's business (tests use port 0). */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const limits: ApiLimits = { ...DEFAULT_API_LIMITS, ...deps.limits };
  const app = Fastify({
    // A client that has not sent its whole request in time is answered 408 and cut off: a
    // slow-drip client cannot hold a connection (or a shutdown) for ever.
    // Given to Node's server too: it enforces the timeout only when its headers timeout is no
    // longer, which it derives from the request timeout only at construction.
    requestTimeout: limits.requestTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: CONNECTION_CHECK_INTERVAL_MS,
    },
    // One line per accepted request (with its request_id) is logged by the route, and 5xx by
    // the error handler; Fastify's own two lines per request would triple the log volume at
    // thousands of requests per second.
    logController: new LogController({ disableRequestLogging: true }),
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
    // A path with broken percent-encoding or an over-long parameter is refused before routing,
    // where Fastify would answer in its own JSON shape; every 4xx here is a problem instead.
    frameworkErrors: (error, request, reply) => {
      void sendProblem(reply, errorToProblem(error, request));
    },
    ajv: {
      // Every bad field is reported at once; values are never coerced into validity.
      customOptions: { allErrors: true, coerceTypes: false, removeAdditional: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // SIGTERM must not wait for clients' idle keep-alive connections (see the function), nor
  // for ever on clients that never finish a request.
  closeConnectionsOnDrain(app);
  app.addHook('preClose', (done) => {
    const cancel = forceCloseAfter(app.server, limits.shutdownTimeoutMs);
    app.server.once('close', cancel);
    done();
  });
  limitConnections(app.server, {
    maxConnections: limits.maxConnections,
    maxPerClient: limits.maxConnectionsPerClient,
  });

  acceptJsonOnly(app);
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = errorToProblem(error, request);
    if (body.status >= 500) request.log.error({ err: error }, 'request failed');
    if (body.status === 503) reply.header('retry-after', '5');
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      problem(404, 'ROUTE_NOT_FOUND', {
        instance: instanceOf(request),
        detail: `No route ${request.method} ${instanceOf(request)}.`,
      }),
    ),
  );

  await registerOpenApi(app, deps.version);
  registerHealthRoutes(
    app,
    [
      { name: 'store', check: () => deps.store.ping() },
      { name: 'queue', check: () => deps.queue.ping() },
    ],
    deps.readinessDetails,
  );
  const intake = createIntake({
    queue: deps.queue,
    store: deps.store,
    hasher: deps.hasher,
    maxBacklog: deps.maxBacklog,
    acceptTimeoutMs: limits.acceptTimeoutMs,
    onAccepted: () => deps.metrics.requestsAccepted.inc(),
  });
  registerQueueGauges(deps.metrics, deps.queue);
  observeRequests(app, deps.metrics);
  const clients = deps.clients;
  const metricsJson = deps.metricsJson;
  if (deps.serveMetrics !== false) registerMetricsRoute(app, deps.metrics, metricsJson);
  if (deps.admin) {
    const { circuitState, ...admin } = deps.admin;
    registerAdminRoutes(app, {
      ...admin,
      ...(clients === undefined ? {} : { clients }),
      store: deps.store,
      stats: {
        metricsJson: metricsJson ?? (() => deps.metrics.registry.getMetricsAsJSON()),
        ...(circuitState === undefined ? {} : { circuitState }),
      },
    });
    registerConsole(app);
  }
  app.decorateRequest('caller', null);
  const callers = {
    rateLimit: new ClientRateLimit(limits.rateLimitPerSec ?? 1),
    ...(limits.rateLimitPerSec === undefined ? {} : { defaultRatePerSec: limits.rateLimitPerSec }),
    ...(clients === undefined ? {} : { clients: clients.registry }),
    ...(deps.admin === undefined ? {} : { operatorToken: deps.admin.adminToken }),
  };
  if (deps.stations !== undefined) {
    // One guard for both: failed attempts count together, as in the admin API.
    const guard = deps.admin === undefined ? undefined : adminGuard(deps.admin.adminToken);
    registerStationRoutes(app, {
      stations: deps.stations.store,
      callers,
      ...(guard === undefined ? {} : { guard }),
    });
    registerReservationRoutes(app, {
      stations: deps.stations.store,
      hasher: deps.hasher,
      callers,
      limits: deps.stations.reservationLimits,
      ...(guard === undefined ? {} : { guard }),
    });
  }
  registerSessionRoutes(app, {
    tracer: deps.tracer ?? trace.getTracer('chargegate'),
    intake,
    store: deps.store,
    checkCallbackUrl: deps.checkCallbackUrl,
    readTimeoutMs: limits.acceptTimeoutMs,
    callers,
    onAccepted: (client, replayed) => {
      if (client !== null) {
        deps.metrics.clientRequests.inc({ client, outcome: replayed ? 'replayed' : 'accepted' });
      }
    },
  });
  return app;
}

/** `/metrics` of this process (and of its worker threads, when `metricsJson` merges them). */
export function registerMetricsRoute(
  app: FastifyInstance,
  metrics: Metrics,
  metricsJson?: () => Promise<MetricsJson>,
): void {
  const text =
    metricsJson === undefined
      ? () => metrics.registry.metrics()
      : async () => exposition(await metricsJson());
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['operations'] } },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await text()),
  );
}

/** Times every request by route template (never the raw URL: ids would explode the labels). */
function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    const seconds = reply.elapsedTime / 1000;
    const status = `${Math.floor(reply.statusCode / 100)}xx`;
    metrics.httpRequestSeconds.observe({ method: request.method, route, status }, seconds);
    if (route === SESSIONS_PATH && reply.statusCode === 202)
      metrics.acknowledgementSeconds.observe(seconds);
  });
}
