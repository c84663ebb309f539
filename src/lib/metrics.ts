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
import type { CircuitState } from './circuit-breaker.js';

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
  authorizationCache: Counter<'result'>;
  authorizationOffline: Counter<'outcome'>;
  circuitState: Gauge<'state'>;
  callbackAttempts: Counter<'outcome'>;
  requestsAccepted: Counter;
  clientRequests: Counter<'client' | 'outcome'>;
  httpRequestSeconds: Histogram<'method' | 'route' | 'status'>;
  acknowledgementSeconds: Histogram;
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
  'no_credit',
  'token_too_long',
  'offline_last_known',
]);

export function reasonLabel(reason: string): string {
  if (KNOWN_REASONS.has(reason)) return reason;
  return /^(http_\d{3}|ocpi_status_\d{4})$/.test(reason) ? reason : 'other';
}

const CIRCUIT_STATES: CircuitState[] = ['closed', 'half_open', 'open'];

/** Fine at the low end, where a healthy API answers (sub-millisecond to a few ms). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Metrics the worker role updates; when it runs in a worker thread, these come from there. */
const AUTHORIZATION_METRICS = [
  'chargegate_authorizations_total',
  'chargegate_authorization_duration_seconds',
  'chargegate_authorization_in_flight',
  'chargegate_authorization_circuit_state',
  'chargegate_authorization_cache_total',
  'chargegate_authorization_offline_total',
];
const CALLBACK_METRICS = ['chargegate_callback_attempts_total'];
const WORKER_METRICS = [...AUTHORIZATION_METRICS, ...CALLBACK_METRICS];

/** The metrics one half of the worker role (role.ts) updates. */
export function workerMetricsOf(part: 'requests' | 'callbacks'): string[] {
  return part === 'requests' ? AUTHORIZATION_METRICS : CALLBACK_METRICS;
}

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
    authorizationCache: new Counter({
      name: 'chargegate_authorization_cache_total',
      help: 'Decision cache lookups (AUTH_CACHE_TTL) by result: hit (no call) or miss.',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    authorizationOffline: new Counter({
      name: 'chargegate_authorization_offline_total',
      help: 'Requests the authorization service could not answer, under AUTH_OFFLINE_POLICY=last_known, by outcome: last_known (allowed offline) or unknown.',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    circuitState,
    callbackAttempts: new Counter({
      name: 'chargegate_callback_attempts_total',
      help: 'Callback attempts by outcome (delivered, gone, failed, deferred).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    clientRequests: new Counter({
      name: 'chargegate_client_requests_total',
      help: 'Requests acknowledged with 202 per API client (new, or an idempotent replay); clients only.',
      labelNames: ['client', 'outcome'] as const,
      registers: [registry],
    }),
    requestsAccepted: new Counter({
      name: 'chargegate_requests_accepted_total',
      help: 'Charging session requests acknowledged with 202.',
      registers: [registry],
    }),
    httpRequestSeconds: new Histogram({
      name: 'chargegate_http_request_duration_seconds',
      help: 'Public API requests by method, route template and status class (2xx, 4xx, …).',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    acknowledgementSeconds: new Histogram({
      name: 'chargegate_acknowledgement_duration_seconds',
      help: 'From receiving a start request to its 202: validation plus the durable writes.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}

export function setCircuitState(metrics: Metrics, state: CircuitState): void {
  for (const s of CIRCUIT_STATES) metrics.circuitState.set({ state: s }, s === state ? 1 : 0);
}

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The metrics of a process whose worker role runs in threads: the worker's from the threads
 * (each reports only those its part updates, so none comes twice), everything else from the
 * main registry.
 */
export async function mergedMetrics(main: Registry, threads: MetricsJson[]): Promise<MetricsJson> {
  const own = (await main.getMetricsAsJSON()).filter((m) => !WORKER_METRICS.includes(m.name));
  return [...own, ...threads.flat()];
}

/** Prometheus text for metrics gathered as JSON (from one or more threads). */
export function exposition(json: MetricsJson): Promise<string> {
  return AggregatorRegistry.aggregate([json]).metrics();
}

export type { MetricsJson };
