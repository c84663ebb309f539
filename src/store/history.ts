import {
  DECISIONS,
  HISTORY_LATENCY_BOUNDS_MS,
  type Decision,
  type HistoryBucket,
  type HistoryQuery,
  type StoreHistory,
} from './port.js';

/**
 * The history query shared by both store adapters: the same grouped statements (SQLite and
 * PostgreSQL read them alike), each served by one of the history indexes, and the same assembly
 * of their rows into buckets. The indexes are the same in both engines, each covering the
 * columns its statement reads (`sqlite-schema.sql`, and the migrations
 * `004-history-of-the-operator-console.sql`). The window's bounds are validated integers,
 * inlined into the text so both engines get literal values their planners can match to the
 * indexes.
 */

/** The most buckets one query may ask for: enough for a day at one minute. */
export const MAX_HISTORY_BUCKETS = 1_500;

export function checkHistoryQuery(query: HistoryQuery): void {
  const { from, to, bucketMs } = query;
  if (![from, to, bucketMs].every(Number.isSafeInteger) || bucketMs <= 0 || to <= from) {
    throw new RangeError(`History window ${from}..${to} by ${bucketMs} ms is not valid`);
  }
  if ((to - from) / bucketMs > MAX_HISTORY_BUCKETS) {
    throw new RangeError(`History window of more than ${MAX_HISTORY_BUCKETS} buckets`);
  }
}

/** The index of a latency's histogram bucket; -1 for a NULL (not stored). */
function latencyBucket(expression: string): string {
  const whens = HISTORY_LATENCY_BOUNDS_MS.map(
    (bound, i) => `WHEN ${expression} <= ${bound} THEN ${i}`,
  );
  return `CASE WHEN ${expression} IS NULL THEN -1 ${whens.join(' ')} ELSE ${HISTORY_LATENCY_BOUNDS_MS.length} END`;
}

/**
 * The statements of one window, on tables named as given (qualified where needed). With
 * `slice` (whole buckets of the window), they read only that part, still numbering buckets
 * from the window's start: an adapter may read a long window slice by slice.
 */
export function historyStatements(
  tables: { sessions: string; attempts: string },
  query: HistoryQuery,
  slice: { from: number; to: number } = query,
) {
  checkHistoryQuery(query);
  const { from, bucketMs } = query;
  const { sessions, attempts } = tables;
  if (![slice.from, slice.to].every(Number.isSafeInteger)) {
    throw new RangeError(`History slice ${slice.from}..${slice.to} is not valid`);
  }
  const bucket = (column: string) => `(${column} - ${from}) / ${bucketMs}`;
  const within = (column: string) => `${column} >= ${slice.from} AND ${column} < ${slice.to}`;
  const deadAt = 'COALESCE(last_attempt_at, accepted_at)';
  return {
    accepted: `SELECT ${bucket('accepted_at')} AS b, ${latencyBucket('accept_ms')} AS l,
        count(*) AS n
      FROM ${sessions} WHERE ${within('accepted_at')} GROUP BY 1, 2`,
    decided: `SELECT ${bucket('decided_at')} AS b, decision AS d,
        ${latencyBucket('auth_latency_ms')} AS l, count(*) AS n
      FROM ${sessions} WHERE ${within('decided_at')} GROUP BY 1, 2, 3`,
    delivered: `SELECT ${bucket('delivered_at')} AS b,
        ${latencyBucket('delivered_at - accepted_at')} AS l, count(*) AS n
      FROM ${sessions} WHERE ${within('delivered_at')} GROUP BY 1, 2`,
    retried: `SELECT ${bucket('started_at')} AS b, count(*) AS n
      FROM ${attempts} WHERE attempt > 1 AND ${within('started_at')} GROUP BY 1`,
    deadLettered: `SELECT ${bucket(deadAt)} AS b, count(*) AS n
      FROM ${sessions} WHERE callback_state = 'dead_lettered' AND ${within(deadAt)} GROUP BY 1`,
    // Undecided at the window's end: still undecided, or decided since (accepted before it).
    // Read at the end, where both counts are small (the backlog, and what was decided since),
    // and carried backwards through the buckets.
    backlogAtTo: `SELECT
        (SELECT count(*) FROM ${sessions} WHERE decided_at IS NULL AND accepted_at < ${query.to})
        + (SELECT count(*) FROM ${sessions}
            WHERE decided_at >= ${query.to} AND accepted_at < ${query.to})
        AS n`,
  };
}

export type HistoryStatements = ReturnType<typeof historyStatements>;

/** A row as either engine returns it: PostgreSQL's `bigint` arrives as a string. */
type Num = number | string;
export interface HistoryRows {
  accepted: { b: Num; l: Num; n: Num }[];
  decided: { b: Num; d: string; l: Num; n: Num }[];
  delivered: { b: Num; l: Num; n: Num }[];
  retried: { b: Num; n: Num }[];
  deadLettered: { b: Num; n: Num }[];
  backlogAtTo: Num;
}

const histogram = () => new Array<number>(HISTORY_LATENCY_BOUNDS_MS.length + 1).fill(0);

function emptyBucket(start: number): HistoryBucket {
  return {
    start,
    accepted: 0,
    acceptMs: histogram(),
    decided: Object.fromEntries(DECISIONS.map((d) => [d, 0])) as Record<Decision, number>,
    authMs: histogram(),
    delivered: 0,
    callbackMs: histogram(),
    retried: 0,
    deadLettered: 0,
    backlog: 0,
  };
}

/** Builds the buckets from the statements' rows, backlog carried back from `to`. */
export function assembleHistory(query: HistoryQuery, rows: HistoryRows): StoreHistory {
  const { from, to, bucketMs } = query;
  const buckets: HistoryBucket[] = [];
  for (let start = from; start < to; start += bucketMs) buckets.push(emptyBucket(start));
  const at = (b: Num) => buckets[Number(b)];
  const count = (hist: number[], l: Num, n: number) => {
    const index = Number(l);
    if (index >= 0) hist[index] = (hist[index] ?? 0) + n;
  };
  for (const row of rows.accepted) {
    const bucket = at(row.b);
    if (!bucket) continue;
    bucket.accepted += Number(row.n);
    count(bucket.acceptMs, row.l, Number(row.n));
  }
  for (const row of rows.decided) {
    const bucket = at(row.b);
    if (!bucket || !(DECISIONS as readonly string[]).includes(row.d)) continue;
    bucket.decided[row.d as Decision] += Number(row.n);
    count(bucket.authMs, row.l, Number(row.n));
  }
  for (const row of rows.delivered) {
    const bucket = at(row.b);
    if (!bucket) continue;
    bucket.delivered += Number(row.n);
    count(bucket.callbackMs, row.l, Number(row.n));
  }
  for (const row of rows.retried) {
    const bucket = at(row.b);
    if (bucket) bucket.retried += Number(row.n);
  }
  for (const row of rows.deadLettered) {
    const bucket = at(row.b);
    if (bucket) bucket.deadLettered += Number(row.n);
  }
  let backlog = Number(rows.backlogAtTo);
  for (const bucket of [...buckets].reverse()) {
    bucket.backlog = Math.max(0, backlog);
    const decided = DECISIONS.reduce((sum, d) => sum + bucket.decided[d], 0);
    backlog -= bucket.accepted - decided;
  }
  return { from, to, bucketMs, buckets };
}
