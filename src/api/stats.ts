import { Type, type Static } from 'typebox';
import type { TypeBoxFastify } from '../http/type-provider.js';
import type { CircuitState } from '../lib/circuit-breaker.js';
import type { MetricsJson } from '../lib/metrics.js';
import { TOPICS } from '../queue/port.js';
import { Problem } from '../http/problem.js';

/** What the stats route reads: the process's metrics and, when it runs a worker, its circuit. */
export interface StatsSource {
  metricsJson: () => Promise<MetricsJson>;
  /** Absent when this process runs no worker role (no breaker to report). */
  circuitState?: () => CircuitState;
}

const Histogram = Type.Object(
  {
    le: Type.Array(Type.Number(), { description: 'Finite upper bounds, seconds, ascending.' }),
    counts: Type.Array(Type.Number(), { description: 'Cumulative count per bound.' }),
    count: Type.Number({ description: 'All observations (the +Inf bucket).' }),
    sum: Type.Number({ description: 'Sum of observations, seconds.' }),
  },
  { description: 'A cumulative histogram: quantiles come from the deltas of two snapshots.' },
);

const QueueStats = Type.Object({
  depth: Type.Number(),
  oldest_age_seconds: Type.Number(),
  dead_letters: Type.Number(),
});

const Counts = Type.Record(Type.String(), Type.Number());

export const StatsView = Type.Object(
  {
    at: Type.String({ format: 'date-time', description: 'Server time of the snapshot.' }),
    accepted: Type.Number({ description: 'Requests answered 202 by this process.' }),
    decisions: Counts,
    callback_attempts: Counts,
    acknowledgement_seconds: Histogram,
    authorization_seconds: Histogram,
    authorizations_in_flight: Type.Number(),
    queues: Type.Record(Type.String(), QueueStats),
    circuit: Type.Union([
      Type.Literal('closed'),
      Type.Literal('half_open'),
      Type.Literal('open'),
      Type.Null(),
    ]),
  },
  {
    description:
      'Cumulative counters of this process (and its worker thread), for the operator console: rates and quantiles are computed by the reader from two snapshots.',
  },
);
export type StatsView = Static<typeof StatsView>;

type Metric = MetricsJson[number];
type Sample = Metric['values'][number];

const DECISIONS = ['allowed', 'not_allowed', 'invalid', 'unknown'];
const CALLBACK_OUTCOMES = ['delivered', 'failed', 'gone', 'deferred'];

/** Sums a metric's samples by the value of one label; `seed` keys are always present. */
function sumBy(metric: Metric | undefined, label: string, seed: string[]): Record<string, number> {
  const totals: Record<string, number> = Object.fromEntries(seed.map((key) => [key, 0]));
  for (const sample of metric?.values ?? []) {
    const key = String(sample.labels[label] ?? '');
    totals[key] = (totals[key] ?? 0) + sample.value;
  }
  return totals;
}

const total = (metric: Metric | undefined) =>
  (metric?.values ?? []).reduce((sum, sample) => sum + sample.value, 0);

/** Merges a histogram's label sets into one cumulative histogram. */
function histogram(metric: Metric | undefined): Static<typeof Histogram> {
  const byBound = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const sample of (metric?.values ?? []) as (Sample & { metricName?: string })[]) {
    const name = sample.metricName ?? '';
    if (name.endsWith('_sum')) sum += sample.value;
    else if (name.endsWith('_count')) count += sample.value;
    else if (name.endsWith('_bucket') && sample.labels['le'] !== '+Inf') {
      const bound = Number(sample.labels['le']);
      byBound.set(bound, (byBound.get(bound) ?? 0) + sample.value);
    }
  }
  const le = [...byBound.keys()].sort((a, b) => a - b);
  return { le, counts: le.map((bound) => byBound.get(bound) ?? 0), count, sum };
}

/** The console's snapshot, from the metrics as prom-client gives them as JSON. */
export function statsSnapshot(
  json: MetricsJson,
  circuit: CircuitState | null,
  now = Date.now(),
): StatsView {
  const byName = new Map(json.map((metric) => [metric.name, metric]));
  const metric = (name: string) => byName.get(`chargegate_${name}`);
  const perTopic = (name: string) => sumBy(metric(name), 'topic', [...TOPICS]);
  const depth = perTopic('queue_depth');
  const age = perTopic('queue_oldest_age_seconds');
  const dead = perTopic('dead_letters');
  return {
    at: new Date(now).toISOString(),
    accepted: total(metric('requests_accepted_total')),
    decisions: sumBy(metric('authorizations_total'), 'decision', DECISIONS),
    callback_attempts: sumBy(metric('callback_attempts_total'), 'outcome', CALLBACK_OUTCOMES),
    acknowledgement_seconds: histogram(metric('acknowledgement_duration_seconds')),
    authorization_seconds: histogram(metric('authorization_duration_seconds')),
    authorizations_in_flight: total(metric('authorization_in_flight')),
    queues: Object.fromEntries(
      TOPICS.map((topic) => [
        topic,
        {
          depth: depth[topic] ?? 0,
          oldest_age_seconds: age[topic] ?? 0,
          dead_letters: dead[topic] ?? 0,
        },
      ]),
    ),
    circuit,
  };
}

/**
 * `GET /admin/v1/stats`, registered inside the admin plugin so its bearer check applies. The
 * console polls it every second, so it answers from the metrics alone: no store query beyond
 * the queue gauges a Prometheus scrape reads too.
 */
export function registerStatsRoute(admin: TypeBoxFastify, source: StatsSource): void {
  admin.get(
    '/stats',
    {
      schema: {
        summary: 'Counters, latency histograms, queue depths and circuit state, for the console',
        tags: ['admin'],
        security: [{ adminToken: [] }],
        response: { 200: StatsView, 401: Problem },
      },
    },
    async (_request, reply) => {
      const json = await source.metricsJson();
      const circuit = source.circuitState?.() ?? null;
      return reply.header('cache-control', 'no-store').send(statsSnapshot(json, circuit));
    },
  );
}
