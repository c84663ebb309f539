/**
 * Entry point of the worker threads that `start` uses on machines with more than one core: one
 * half of the worker role (`part`: authorization or callbacks) runs here, on its own event
 * loop, while the main thread serves the API. It opens its own connections (SQLite handles
 * cannot be shared between threads) and talks to the main thread only through messages.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config/config.js';
import { openAdapters, openClients, openStationStore } from '../wiring/adapters.js';
import { createLogger, flushLogSync } from '../lib/logger.js';
import { createMetrics, workerMetricsOf } from '../lib/metrics.js';
import { createTracing } from '../lib/tracing.js';
import { startWorkerRole } from './role.js';
import type { HostMessage, ThreadMessage, WorkerThreadData } from './thread-protocol.js';
import { closeInReverse } from '../lib/closers.js';

/**
 * The worker thread's CPU priority (nice, Linux): below the API thread's, so that when the
 * cores are busy, accepting (latency-bound: the client waits for its `202`) goes first and
 * deciding (a durable backlog that catches up) takes what is left. docs/performance.md gives
 * what it gains, measured by `npm run bench`.
 */
const NICENESS = 10;

function lowerPriority(logger: FastifyBaseLogger): void {
  try {
    // On Linux a thread id is accepted as a pid by setpriority(2), and then names that thread.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, NICENESS);
  } catch (error) {
    logger.info({ err: error }, 'worker thread keeps the API thread priority (no per-thread nice)');
  }
}

function hostPort(): MessagePort {
  if (!parentPort) throw new Error('thread.ts runs only as a worker thread');
  return parentPort;
}
const port = hostPort();
const data = workerData as WorkerThreadData;
const config: Config = data.config;
const post = (message: ThreadMessage) => port.postMessage(message);

const rootLogger = createLogger(config.logLevel);
// pino writes out only the main thread's log buffer at exit (logger.ts).
process.on('exit', () => flushLogSync(rootLogger));
const logger = rootLogger.child({
  thread: `worker-${data.part}`,
}) as unknown as FastifyBaseLogger;
lowerPriority(logger);
const metrics = createMetrics({ processMetrics: false });
const tracing = createTracing(config.tracing);
const { queue, store } = await openAdapters(config);
const clients = await openClients(config, (error) =>
  logger.warn({ err: error }, 'reading the API clients failed; keeping the last ones'),
);
// Only the deciding half reads the catalog.
const stations = data.part === 'callbacks' ? undefined : await openStationStore(config);
const role = startWorkerRole(
  config,
  {
    queue,
    store,
    logger,
    metrics,
    tracer: tracing.tracer,
    authUrl: data.authUrl,
    webhookSecrets: data.webhookSecrets,
    clients: clients.registry,
    ...(stations === undefined ? {} : { stations }),
    onCircuitState: (state) => post({ type: 'circuit', state }),
  },
  data.part,
);
// Only the metrics this thread's part updates: the other half's would read as zeros.
const reported = new Set(workerMetricsOf(data.part));

async function stop(): Promise<void> {
  await closeInReverse(role.closers, (error) =>
    logger.error({ err: error }, 'error while stopping the worker thread'),
  );
  await queue.close();
  await store.close();
  await clients.close();
  await stations?.close();
  await tracing.shutdown();
  post({ type: 'stopped' });
  port.close();
}

port.on('message', (message: HostMessage) => {
  if (message.type === 'stop') void stop();
  else if (message.type === 'metrics') {
    void metrics.registry.getMetricsAsJSON().then((json) => {
      post({ type: 'metrics', id: message.id, json: json.filter((m) => reported.has(m.name)) });
    });
  }
});
post({ type: 'started' });
