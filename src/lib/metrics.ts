import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client';
import type { CircuitState } from '../authorization/circuit-breaker.js';

/**
 * The process's Prometheus metrics, in one registry per process (not prom-client's global one,
 * so tests can build several). Labels are bounded sets: decisions, known reasons, outcomes —
 * never tokens, ids or URLs.
 */
export interface Metrics {
  registry: Registry;
  authorizations: Counter<'decision' | 'reason'>;
  authorizationSeconds: Histogram<'decision'>;
  authorizationInFlight: Gauge;
  circuitState: Gauge<'state'>;
  callbackAttempts: Counter<'outcome'>;
  requestsAccepted: Counter;
}

/** Reasons become label values only when they are from this list; others count as `other`,
 * because an authorization service may put arbitrary text in `reason`. */
const KNOWN_REASONS = new Set([
  'active',
  'blocked',
  'expired',
  'not_at_this_station',
  'unknown_token',
  'timeout',
  'connection_refused',
  'connection_reset',
  'connection_error',
  'dns_error',
  'malformed_body',
  'unexpected_status',
  'circuit_open',
  'deadline_exceeded',
]);

export function reasonLabel(reason: string): string {
  if (KNOWN_REASONS.has(reason)) return reason;
  return /^http_\d{3}$/.test(reason) ? reason : 'other';
}

const CIRCUIT_STATES: CircuitState[] = ['closed', 'half_open', 'open'];

/** Metrics the worker role updates; when it runs in a worker thread, these come from there. */
export const WORKER_METRICS = [
  'chargegate_authorizations_total',
  'chargegate_authorization_duration_seconds',
  'chargegate_authorization_in_flight',
  'chargegate_authorization_circuit_state',
  'chargegate_callback_attempts_total',
];

/**
 * `processMetrics`: the process-wide ones (CPU, memory, event loop). Only the main thread
 * collects them; a worker thread would report the same process twice.
 */
export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'chargegate_' });
  const circuitState = new Gauge({
    name: 'chargegate_authorization_circuit_state',
    help: 'Circuit breaker in front of the authorization service: 1 for the current state.',
    labelNames: ['state'] as const,
    registers: [registry],
  });
  for (const state of CIRCUIT_STATES) circuitState.set({ state }, state === 'closed' ? 1 : 0);
  return {
    registry,
    authorizations: new Counter({
      name: 'chargegate_authorizations_total',
      help: 'Authorization decisions by decision and reason.',
      labelNames: ['decision', 'reason'] as const,
      registers: [registry],
    }),
    authorizationSeconds: new Histogram({
      name: 'chargegate_authorization_duration_seconds',
      help: 'Duration of calls to the authorization service.',
      labelNames: ['decision'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    authorizationInFlight: new Gauge({
      name: 'chargegate_authorization_in_flight',
      help: 'Calls to the authorization service in flight in this process.',
      registers: [registry],
    }),
    circuitState,
    callbackAttempts: new Counter({
      name: 'chargegate_callback_attempts_total',
      help: 'Callback attempts by outcome (delivered, gone, failed, deferred).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    requestsAccepted: new Counter({
      name: 'chargegate_requests_accepted_total',
      help: 'Charging session requests acknowledged with 202.',
      registers: [registry],
    }),
  };
}

export function setCircuitState(metrics: Metrics, state: CircuitState): void {
  for (const s of CIRCUIT_STATES) metrics.circuitState.set({ state: s }, s === state ? 1 : 0);
}

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The exposition of a process whose worker role runs in a thread: the worker's metrics from
 * the thread's registry, everything else from the main one.
 */
export async function mergedExposition(main: Registry, worker: MetricsJson): Promise<string> {
  const own = (await main.getMetricsAsJSON()).filter((m) => !WORKER_METRICS.includes(m.name));
  const theirs = worker.filter((m) => WORKER_METRICS.includes(m.name));
  return AggregatorRegistry.aggregate([[...own, ...theirs]]).metrics();
}

export type { MetricsJson };
