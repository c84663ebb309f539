import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Metrics, MetricsJson } from '../lib/metrics.js';
import { registerMetricsRoute } from './server.js';

/**
 * `/metrics` on a port of its own (METRICS_PORT), so that it can be kept off the public
 * network: the public API then has no `/metrics`.
 */
export async function startMetricsServer(options: {
  port: number;
  host: string;
  metrics: Metrics;
  metricsJson?: () => Promise<MetricsJson>;
  logger: FastifyBaseLogger;
}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerMetricsRoute(app, options.metrics, options.metricsJson);
  await app.listen({ port: options.port, host: options.host });
  return app;
}
