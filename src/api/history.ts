import { Type, type Static } from 'typebox';
import { literals, type TypeBoxFastify } from '../http/type-provider.js';
import {
  DECISIONS,
  HISTORY_LATENCY_BOUNDS_MS,
  type DecisionStore,
  type StoreHistory,
} from '../store/port.js';
import { Problem } from '../http/problem.js';
import { instanceOf, problem, sendProblem } from '../http/problem.js';

/**
 * The ranges the console offers, each with a bucket that gives it 90 to 180 points, and how
 * often the console refreshes it: a longer range reads more rows and changes more slowly.
 */
export const HISTORY_RANGES = {
  '15m': { rangeMs: 15 * 60_000, bucketMs: 10_000, refreshMs: 5_000 },
  '1h': { rangeMs: 60 * 60_000, bucketMs: 30_000, refreshMs: 10_000 },
  '6h': { rangeMs: 6 * 60 * 60_000, bucketMs: 2 * 60_000, refreshMs: 30_000 },
  '24h': { rangeMs: 24 * 60 * 60_000, bucketMs: 10 * 60_000, refreshMs: 60_000 },
} as const;
export type HistoryRange = keyof typeof HISTORY_RANGES;
const RANGE_NAMES = Object.keys(HISTORY_RANGES) as HistoryRange[];

/** A latency histogram: counts per bound of `latency_bounds_ms`, then one above the last. */
const Latency = Type.Array(Type.Integer());
const Counts = Type.Record(Type.String(), Type.Integer());

const HistoryBucketView = Type.Object({
  start: Type.String({ format: 'date-time' }),
  seconds: Type.Number({
    description: 'How much of the bucket has passed (the last is cut at now).',
  }),
  accepted: Type.Integer(),
  decided: Counts,
  delivered: Type.Integer(),
  retried: Type.Integer({ description: 'Callback attempts after the first.' }),
  dead_lettered: Type.Integer({ description: 'Callbacks still dead-lettered, by last attempt.' }),
  backlog: Type.Integer({ description: 'Accepted and not yet decided at the bucket end.' }),
  accept_ms: Latency,
  authorization_ms: Latency,
  callback_ms: Latency,
});

export const HistoryView = Type.Object(
  {
    range: Type.String(),
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    bucket_seconds: Type.Number(),
    refresh_seconds: Type.Number({ description: 'How often a reader should ask again.' }),
    ranges: Type.Array(Type.String()),
    latency_bounds_ms: Type.Array(Type.Number()),
    buckets: Type.Array(HistoryBucketView),
  },
  {
    description:
      'What the store holds about a recent window, bucketed: the same for every process sharing the store. accept_ms is the stored share of POST → 202 (from the start of accepting to the session write); callback_ms runs from acceptance to delivery.',
  },
);
export type HistoryView = Static<typeof HistoryView>;

const iso = (ms: number) => new Date(ms).toISOString();

/** The window of a range ending now: whole buckets, the last one holding `now`. */
export function historyWindow(range: HistoryRange, now: number) {
  const { rangeMs, bucketMs } = HISTORY_RANGES[range];
  const end = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  return { from: end - rangeMs, to: now + 1, bucketMs };
}

export function historyView(range: HistoryRange, history: StoreHistory, now: number): HistoryView {
  const { bucketMs, refreshMs } = HISTORY_RANGES[range];
  return {
    range,
    from: iso(history.from),
    to: iso(now),
    bucket_seconds: bucketMs / 1000,
    refresh_seconds: refreshMs / 1000,
    ranges: RANGE_NAMES,
    latency_bounds_ms: [...HISTORY_LATENCY_BOUNDS_MS],
    buckets: history.buckets.map((b) => ({
      start: iso(b.start),
      seconds: Math.max(0.001, (Math.min(b.start + bucketMs, now) - b.start) / 1000),
      accepted: b.accepted,
      decided: Object.fromEntries(DECISIONS.map((d) => [d, b.decided[d]])),
      delivered: b.delivered,
      retried: b.retried,
      dead_lettered: b.deadLettered,
      backlog: b.backlog,
      accept_ms: b.acceptMs,
      authorization_ms: b.authMs,
      callback_ms: b.callbackMs,
    })),
  };
}

/**
 * `GET /admin/v1/history?range=15m`, registered inside the admin plugin. One answer per range
 * is shared for half its refresh interval, so any number of open consoles cost one store
 * query per range and interval.
 */
export function registerHistoryRoute(
  admin: TypeBoxFastify,
  store: Pick<DecisionStore, 'history'>,
  now: () => number = Date.now,
): void {
  const cache = new Map<HistoryRange, { at: number; view: Promise<HistoryView> }>();
  const read = (range: HistoryRange): Promise<HistoryView> => {
    const at = now();
    const cached = cache.get(range);
    if (cached && at - cached.at < HISTORY_RANGES[range].refreshMs / 2) return cached.view;
    const view = store.history(historyWindow(range, at)).then((h) => historyView(range, h, at));
    cache.set(range, { at, view });
    view.catch(() => cache.delete(range));
    return view;
  };
  admin.get(
    '/history',
    {
      schema: {
        summary: 'Bucketed history of a recent window, from the store, for the console',
        tags: ['admin'],
        security: [{ adminToken: [] }],
        querystring: Type.Object({
          range: Type.Optional(
            literals(RANGE_NAMES, { description: 'The window ending now; default 15m.' }),
          ),
        }),
        response: { 200: HistoryView, 400: Problem, 401: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      try {
        const view = await read(request.query.range ?? '15m');
        return await reply.header('cache-control', 'no-store').send(view);
      } catch (error) {
        request.log.warn({ err: error }, 'history query failed');
        return sendProblem(
          reply,
          problem(503, 'HISTORY_UNAVAILABLE', { instance: instanceOf(request) }),
        );
      }
    },
  );
}
