import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Queue } from '../queue/port.js';
import type { DecisionStore } from '../store/port.js';
import type { Metrics } from '../lib/metrics.js';
import type { CircuitState } from '../lib/circuit-breaker.js';
import { registerHealthRoutes } from '../http/health.js';

/**
 * What a `worker`-only process serves on WORKER_PORT: the same `/health/live`, `/health/ready`
 * (queue, store, circuit state) and `/metrics` as the API, so workers can be probed and scraped
 * like any other process. Nothing else listens in a worker.
 */
export async function startWorkerStatusServer(options: {
  port: number;
  host: string;
  queue: Queue;
  store: DecisionStore;
  metrics: Metrics;
  circuitState: () => CircuitState;
  logger: FastifyBaseLogger;
}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerHealthRoutes(
    app,
    [
      { name: 'store', check: () => options.store.ping() },
      { name: 'queue', check: () => options.queue.ping() },
    ],
    () => ({ authorization_circuit: options.circuitState() }),
  );
  app.get('/metrics', async (_request, reply) =>
    reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics()),
  );
  await app.listen({ port: options.port, host: options.host });
  return app;
}
