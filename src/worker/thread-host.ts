import { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import type { CircuitState } from '../lib/circuit-breaker.js';
import type { MetricsJson } from '../lib/metrics.js';
import type { HostMessage, ThreadMessage, WorkerThreadData } from './thread-protocol.js';

export interface WorkerThread {
  /** The worker's circuit breaker state, mirrored from the thread's messages. */
  circuitState(): CircuitState;
  /** The worker's metrics, fetched from the thread. */
  metrics(): Promise<MetricsJson>;
  /** Stops the worker role (in-flight work finished) and ends the thread. */
  stop(): Promise<void>;
}

/** A thread that neither reports its metrics nor stops within this long is not coming back. */
const METRICS_TIMEOUT_MS = 2_000;

/**
 * Starts the worker role in a worker thread. `onCrash` is called if the thread dies on its
 * own: the API would go on accepting work that nothing decides, so the caller should exit.
 */
export async function startWorkerThread(
  data: WorkerThreadData,
  options: { logger: FastifyBaseLogger; onCrash: (error: unknown) => void },
): Promise<WorkerThread> {
  const worker = new Worker(new URL('./thread.js', import.meta.url), { workerData: data });
  const send = (message: HostMessage) => worker.postMessage(message);
  let circuit: CircuitState = 'closed';
  let stopping = false;
  let nextId = 0;
  const pending = new Map<number, (json: MetricsJson) => void>();
  const stopped = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  worker.on('message', (message: ThreadMessage) => {
    if (message.type === 'circuit') circuit = message.state;
    if (message.type === 'metrics') pending.get(message.id)?.(message.json);
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', (message: ThreadMessage) =>
      message.type === 'started' ? resolve() : reject(new Error(`unexpected ${message.type}`)),
    );
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker thread exited with ${code} at start`)));
  });
  worker.on('error', (error) => options.logger.error({ err: error }, 'worker thread failed'));
  worker.on('exit', (code) => {
    if (!stopping) options.onCrash(new Error(`worker thread exited with code ${code}`));
  });

  return {
    circuitState: () => circuit,
    metrics() {
      const id = (nextId += 1);
      return new Promise<MetricsJson>((resolve) => {
        const timer = setTimeout(() => done([]), METRICS_TIMEOUT_MS);
        function done(json: MetricsJson) {
          clearTimeout(timer);
          pending.delete(id);
          resolve(json);
        }
        pending.set(id, done);
        send({ type: 'metrics', id });
      });
    },
    async stop() {
      stopping = true;
      send({ type: 'stop' });
      await stopped;
    },
  };
}
