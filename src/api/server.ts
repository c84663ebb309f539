import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { FastifyBaseLogger, FastifyError } from 'fastify';
import type { Queue } from '../queue/port.js';
import type { DecisionStore } from '../store/port.js';
import type { TokenHasher } from '../lib/token-hash.js';
import { createIntake } from './intake.js';
import { errorToProblem, instanceOf, problem, sendProblem } from './problem.js';
import { registerHealthRoutes, type ReadinessDetails } from './health.js';
import { registerOpenApi } from './openapi.js';
import { registerSessionRoutes, BODY_LIMIT_BYTES } from './sessions.js';
import type { CallbackUrlCheck } from './validate.js';
import type { DeadLetters } from '../callbacks/dead-letters.js';
import { trace, type Tracer } from '@opentelemetry/api';
import { registerAdminRoutes } from './admin.js';
import { registerConsole } from './console/routes.js';
import type { CircuitState } from '../authorization/circuit-breaker.js';
import { exposition, registerQueueGauges, type Metrics, type MetricsJson } from '../lib/metrics.js';
import { SESSIONS_PATH } from './sessions.js';
import { closeConnectionsOnDrain } from '../lib/drain-connections.js';
import { acceptJsonOnly } from './json-body.js';

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
}

/** Builds the public API. Listening is the caller's business (tests use port 0). */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const app = Fastify({
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
  });
  // SIGTERM must not wait for clients' idle keep-alive connections (see the function).
  closeConnectionsOnDrain(app);

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
      problem(404, 'SESSION_NOT_FOUND', {
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
    onAccepted: () => deps.metrics.requestsAccepted.inc(),
  });
  registerQueueGauges(deps.metrics, deps.queue);
  observeRequests(app, deps.metrics);
  const metricsJson = deps.metricsJson;
  registerMetricsRoute(
    app,
    deps.metrics,
    metricsJson === undefined
      ? () => deps.metrics.registry.metrics()
      : async () => exposition(await metricsJson()),
  );
  if (deps.admin) {
    const { circuitState, ...admin } = deps.admin;
    registerAdminRoutes(app, {
      ...admin,
      stats: {
        metricsJson: metricsJson ?? (() => deps.metrics.registry.getMetricsAsJSON()),
        ...(circuitState === undefined ? {} : { circuitState }),
      },
    });
    registerConsole(app);
  }
  registerSessionRoutes(app, {
    tracer: deps.tracer ?? trace.getTracer('chargegate'),
    intake,
    store: deps.store,
    checkCallbackUrl: deps.checkCallbackUrl,
  });
  return app;
}

function registerMetricsRoute(
  app: FastifyInstance,
  metrics: Metrics,
  exposition: () => Promise<string>,
): void {
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['operations'] } },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await exposition()),
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
