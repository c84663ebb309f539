/**
 * The console's history: reads `/admin/v1/history` for the selected range at the interval it
 * names, and draws the charts and the latency tiles from it. Every figure here comes from the
 * store, so it shows what happened before the page was opened, in every process.
 */
import { COLORS, drawChart, mergeCounts, quantileOf } from './charts.js';
import { $, $as, setText } from './dom.js';
import { fmtInt, fmtMs } from './format.js';
import { DECISIONS, api, messageOf, rejected, signedIn, statusOf } from './session.js';
import { sum } from './stats.js';

/** @typedef {import('./charts.js').Series} Series */
/**
 * @typedef {object} Bucket One bucket of `GET /admin/v1/history`.
 * @property {string} start
 * @property {number} seconds
 * @property {number} accepted
 * @property {Record<string, number>} decided
 * @property {number} delivered
 * @property {number} retried
 * @property {number} dead_lettered
 * @property {number} backlog
 * @property {number[]} accept_ms
 * @property {number[]} callback_ms
 * @property {number[]} authorization_ms
 */
/**
 * @typedef {object} HistoryView The answer of `GET /admin/v1/history`.
 * @property {string} range
 * @property {string} from
 * @property {number} bucket_seconds
 * @property {number} refresh_seconds
 * @property {number[]} latency_bounds_ms
 * @property {Bucket[]} buckets
 */
/** @typedef {keyof typeof RANGE_LABELS} Range */

const RANGE_KEY = 'chargegate.range';
const RANGE_LABELS = {
  '15m': 'last 15 minutes',
  '1h': 'last hour',
  '6h': 'last 6 hours',
  '24h': 'last 24 hours',
};

/** @param {string | null | undefined} name @returns {name is Range} */
const isRange = (name) => typeof name === 'string' && Object.hasOwn(RANGE_LABELS, name);

/** @type {Range} */
let range = (() => {
  const stored = sessionStorage.getItem(RANGE_KEY);
  return isRange(stored) ? stored : '15m';
})();
/** @type {HistoryView | null} */
let history = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let historyTimer;
/** Bumped by every new request, so an older answer arriving late is dropped. */
let historyGeneration = 0;

export function startHistory() {
  stopHistory();
  markRange();
  void refreshHistory();
}

export function stopHistory() {
  clearTimeout(historyTimer);
  historyGeneration += 1;
}

/** @param {string | undefined} next */
export function selectRange(next) {
  if (!isRange(next) || next === range) return;
  range = next;
  sessionStorage.setItem(RANGE_KEY, range);
  startHistory();
}

function markRange() {
  for (const button of document.querySelectorAll('[data-range]')) {
    if (!(button instanceof HTMLElement)) continue;
    const on = button.dataset.range === range;
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    button.classList.toggle('on', on);
  }
}

async function refreshHistory() {
  const generation = ++historyGeneration;
  let delayMs = 5000;
  try {
    /** @type {HistoryView} */
    const view = await api('GET', '/admin/v1/history', { query: { range } });
    if (generation !== historyGeneration || !signedIn()) return;
    history = view;
    delayMs = view.refresh_seconds * 1000;
    renderHistory();
  } catch (error) {
    if (generation !== historyGeneration) return;
    if (statusOf(error) === 401) return rejected('The admin token was rejected.');
    $('history-note').textContent = 'History not updating: ' + messageOf(error);
  }
  if (signedIn() && generation === historyGeneration) {
    historyTimer = setTimeout(refreshHistory, delayMs);
  }
}

/** @type {(count: number, b: Bucket) => number} */
const rate = (count, b) => count / b.seconds;
/** @param {number} seconds */
const fmtBucket = (seconds) => (seconds < 60 ? seconds + ' s' : seconds / 60 + ' min');
/** @param {Bucket} b */
const decidedIn = (b) => sum(b.decided);

/**
 * A p50/p99 pair of series, in ms, from one latency histogram per bucket.
 * @param {HistoryView} view
 * @param {(b: Bucket) => number[]} read
 * @returns {Series[]}
 */
function quantileSeries(view, read) {
  const bounds = view.latency_bounds_ms;
  /** @param {number} q */
  const points = (q) =>
    view.buckets.map((b) => ({ t: Date.parse(b.start), v: quantileOf(q, read(b), bounds) }));
  return [
    { color: COLORS.p50, points: points(0.5) },
    { color: COLORS.p99, points: points(0.99) },
  ];
}

/**
 * @param {HistoryView} view
 * @param {string} name
 * @param {(b: Bucket) => number[]} read
 */
function latencyTile(view, name, read) {
  const counts = mergeCounts(view.buckets.map(read));
  const bounds = view.latency_bounds_ms;
  /** @param {number} q */
  const ms = (q) => {
    const v = quantileOf(q, counts, bounds);
    return v === null ? null : v / 1000;
  };
  setText(name + '-p50', fmtMs(ms(0.5)));
  setText(name + '-p99', fmtMs(ms(0.99)));
}

/**
 * @param {HistoryView} view
 * @param {string} color
 * @param {(b: Bucket) => number} read
 * @returns {Series}
 */
function series(view, color, read) {
  return { color, points: view.buckets.map((b) => ({ t: Date.parse(b.start), v: read(b) })) };
}

/**
 * What a chart shows, also as attributes: a reader (or a test) can check it without pixels.
 * @param {HTMLCanvasElement} canvas
 * @param {string} label
 * @param {Record<string, number>} totals
 */
function describe(canvas, label, totals) {
  canvas.setAttribute('aria-label', label);
  for (const [name, value] of Object.entries(totals)) canvas.dataset[name] = String(value);
}

/** @param {string} id */
const canvas = (id) => $as(id, HTMLCanvasElement);

/** Draws the last history read again, as after a resize. */
export function renderHistory() {
  const view = history;
  if (!view || $('dashboard').hidden) return;
  const from = Date.parse(view.from);
  const to = from + view.buckets.length * view.bucket_seconds * 1000;
  const frame = { from, to, bucketMs: view.bucket_seconds * 1000, floor: 1 };
  const b = view.buckets;
  /** @param {(bucket: Bucket) => number} read */
  const total = (read) => b.reduce((n, x) => n + read(x), 0);
  const accepted = total((x) => x.accepted);
  const decided = total(decidedIn);
  const label = isRange(view.range) ? RANGE_LABELS[view.range] : view.range;
  $('history-note').textContent =
    'From the store, ' +
    label +
    ' by ' +
    fmtBucket(view.bucket_seconds) +
    ': ' +
    fmtInt(accepted) +
    ' accepted, ' +
    fmtInt(decided) +
    ' decided.';

  drawChart(
    canvas('chart-throughput'),
    [
      series(view, COLORS.accepted, (x) => rate(x.accepted, x)),
      series(view, COLORS.decided, (x) => rate(decidedIn(x), x)),
    ],
    frame,
  );
  describe(
    canvas('chart-throughput'),
    'Throughput, ' + label + ': ' + fmtInt(accepted) + ' accepted, ' + fmtInt(decided) + ' decided',
    { accepted, decided },
  );

  const mix = DECISIONS.filter((d) => d !== 'unknown').map((d) =>
    series(view, COLORS[/** @type {keyof typeof COLORS} */ (d)], (x) => rate(x.decided[d] || 0, x)),
  );
  // Unknown first, so it sits on the baseline in its own colour, never hidden in the stack.
  mix.unshift(series(view, COLORS.unknown, (x) => rate(x.decided.unknown || 0, x)));
  drawChart(canvas('chart-decisions'), mix, Object.assign({ stacked: true }, frame));
  const unknown = total((x) => x.decided.unknown || 0);
  describe(
    canvas('chart-decisions'),
    'Decisions, ' + label + ': ' + fmtInt(unknown) + ' unknown of ' + fmtInt(decided),
    { decided, unknown },
  );

  drawChart(
    canvas('chart-latency'),
    quantileSeries(view, (x) => x.accept_ms),
    frame,
  );
  const acks = total((x) => sum(x.accept_ms));
  describe(canvas('chart-latency'), 'POST to 202, ' + label + ', ' + fmtInt(acks) + ' requests', {
    count: acks,
  });
  latencyTile(view, 'ack', (x) => x.accept_ms);

  drawChart(
    canvas('chart-callback-latency'),
    quantileSeries(view, (x) => x.callback_ms),
    frame,
  );
  const delivered = total((x) => x.delivered);
  describe(
    canvas('chart-callback-latency'),
    'POST to delivered callback, ' + label + ', ' + fmtInt(delivered) + ' callbacks',
    { count: delivered },
  );
  latencyTile(view, 'callback', (x) => x.callback_ms);
  latencyTile(view, 'auth', (x) => x.authorization_ms);

  const retried = total((x) => x.retried);
  const dead = total((x) => x.dead_lettered);
  drawChart(
    canvas('chart-callbacks'),
    [
      series(view, COLORS.decided, (x) => rate(x.delivered, x)),
      series(view, COLORS.p99, (x) => rate(x.retried, x)),
      series(view, COLORS.dead, (x) => rate(x.dead_lettered, x)),
    ],
    frame,
  );
  describe(
    canvas('chart-callbacks'),
    'Callbacks, ' +
      label +
      ': ' +
      fmtInt(delivered) +
      ' delivered, ' +
      fmtInt(retried) +
      ' retries, ' +
      fmtInt(dead) +
      ' dead-lettered',
    { delivered, retried, deadLettered: dead },
  );

  const backlog = b.length ? b[b.length - 1].backlog : 0;
  const peak = b.reduce((n, x) => Math.max(n, x.backlog), 0);
  drawChart(canvas('chart-backlog'), [series(view, COLORS.accepted, (x) => x.backlog)], frame);
  describe(
    canvas('chart-backlog'),
    'Backlog, ' + label + ': ' + fmtInt(backlog) + ' now, at most ' + fmtInt(peak),
    { now: backlog, peak },
  );
}
